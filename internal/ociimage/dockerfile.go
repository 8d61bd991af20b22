// Package ociimage builds Strata's container image as an OCI image layout
// without a container engine: it reads the final stage of deploy/Dockerfile
// (FROM scratch, COPY, USER, ENV, VOLUME, EXPOSE, ENTRYPOINT, CMD, WORKDIR,
// LABEL) and writes the same image, with one layer holding the static
// binary and the directories the stage copies, through
// go-containerregistry. `make image` runs it (cmd/strata-image); the test
// checks the result against the Dockerfile and the binary for being static.
//
// Only what deploy/Dockerfile's final stage uses is understood; anything
// else there is an error, so a new instruction cannot be silently left out
// of the image. It starts no goroutines.
package ociimage

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Instruction is one Dockerfile instruction: its keyword (upper case), its
// --flags, and its arguments (the JSON array's elements, or the words).
type Instruction struct {
	Line  int
	Cmd   string
	Flags map[string]string
	Args  []string
	JSON  bool   // the arguments were a JSON array (exec form)
	Raw   string // the text after the keyword, continuation lines joined
}

// Stage is one FROM ... stage.
type Stage struct {
	From         string
	Name         string
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Stages []Stage
}

// Final is the last stage: the image.
func (d Dockerfile) Final() Stage { return d.Stages[len(d.Stages)-1] }

// Parse reads a Dockerfile: comments and blank lines dropped, backslash
// continuations joined, parser directives ignored.
func Parse(r io.Reader) (Dockerfile, error) {
	var d Dockerfile
	sc := bufio.NewScanner(r)
	var cont strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if cont.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cont.Len() > 0 && strings.HasPrefix(line, "#") {
			continue // comments inside a continued instruction
		}
		if cont.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cont.WriteString(strings.TrimSuffix(line, "\\"))
			cont.WriteString(" ")
			continue
		}
		cont.WriteString(line)
		in, err := parseInstruction(start, cont.String())
		cont.Reset()
		if err != nil {
			return d, err
		}
		if in.Cmd == "FROM" {
			if len(in.Args) != 1 && !(len(in.Args) == 3 && strings.EqualFold(in.Args[1], "AS")) {
				return d, fmt.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", in.Line, in.Raw)
			}
			st := Stage{From: in.Args[0]}
			if len(in.Args) == 3 {
				st.Name = in.Args[2]
			}
			d.Stages = append(d.Stages, st)
			continue
		}
		if len(d.Stages) == 0 {
			if in.Cmd == "ARG" {
				continue // ARGs before the first FROM
			}
			return d, fmt.Errorf("line %d: %s before FROM", in.Line, in.Cmd)
		}
		last := &d.Stages[len(d.Stages)-1]
		last.Instructions = append(last.Instructions, in)
	}
	if err := sc.Err(); err != nil {
		return d, err
	}
	if cont.Len() > 0 {
		return d, fmt.Errorf("line %d: file ends inside a continued instruction", start)
	}
	if len(d.Stages) == 0 {
		return d, fmt.Errorf("no FROM")
	}
	return d, nil
}

func parseInstruction(line int, text string) (Instruction, error) {
	cmd, rest, _ := strings.Cut(text, " ")
	in := Instruction{Line: line, Cmd: strings.ToUpper(cmd), Flags: map[string]string{}}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		var flag string
		flag, rest, _ = strings.Cut(rest, " ")
		k, v, _ := strings.Cut(strings.TrimPrefix(flag, "--"), "=")
		in.Flags[k] = v
		rest = strings.TrimSpace(rest)
	}
	in.Raw = rest
	if strings.HasPrefix(rest, "[") {
		if err := json.Unmarshal([]byte(rest), &in.Args); err != nil {
			return in, fmt.Errorf("line %d: %s %s: %v", line, in.Cmd, rest, err)
		}
		in.JSON = true
		return in, nil
	}
	in.Args = strings.Fields(rest)
	return in, nil
}

// Copy is a COPY of the final stage: a file or directory of another stage
// to Dest, owned by UID:GID.
type Copy struct {
	From     string // stage
	Src      string
	Dest     string
	UID, GID int
}

// ImageSpec is what the final stage makes of the image.
type ImageSpec struct {
	Base         string
	Copies       []Copy
	User         string
	Env          []string // KEY=VALUE, in order
	Volumes      []string
	ExposedPorts []string // 9092/tcp
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	Labels       map[string]string
}

// Spec interprets the final stage.
func (d Dockerfile) Spec() (ImageSpec, error) {
	st := d.Final()
	spec := ImageSpec{Base: st.From, Labels: map[string]string{}}
	for _, in := range st.Instructions {
		switch in.Cmd {
		case "COPY":
			if len(in.Args) != 2 {
				return spec, fmt.Errorf("line %d: COPY %s: want one source and a destination", in.Line, in.Raw)
			}
			c := Copy{From: in.Flags["from"], Src: in.Args[0], Dest: in.Args[1]}
			if own, ok := in.Flags["chown"]; ok {
				if _, err := fmt.Sscanf(own, "%d:%d", &c.UID, &c.GID); err != nil {
					return spec, fmt.Errorf("line %d: --chown=%s: want numeric UID:GID", in.Line, own)
				}
			}
			for k := range in.Flags {
				if k != "from" && k != "chown" {
					return spec, fmt.Errorf("line %d: COPY --%s is not supported", in.Line, k)
				}
			}
			spec.Copies = append(spec.Copies, c)
		case "USER":
			spec.User = in.Raw
		case "ENV":
			for _, kv := range in.Args {
				if !strings.Contains(kv, "=") {
					return spec, fmt.Errorf("line %d: ENV %s: want KEY=VALUE", in.Line, in.Raw)
				}
				spec.Env = append(spec.Env, kv)
			}
		case "VOLUME":
			spec.Volumes = append(spec.Volumes, in.Args...)
		case "EXPOSE":
			for _, p := range in.Args {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				spec.ExposedPorts = append(spec.ExposedPorts, p)
			}
		case "ENTRYPOINT", "CMD":
			if !in.JSON {
				return spec, fmt.Errorf("line %d: %s must use the exec (JSON array) form: there is no shell in the image", in.Line, in.Cmd)
			}
			if in.Cmd == "ENTRYPOINT" {
				spec.Entrypoint = in.Args
			} else {
				spec.Cmd = in.Args
			}
		case "WORKDIR":
			spec.WorkingDir = in.Raw
		case "LABEL":
			for _, kv := range in.Args {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return spec, fmt.Errorf("line %d: LABEL %s: want KEY=VALUE", in.Line, in.Raw)
				}
				spec.Labels[k] = strings.Trim(v, `"`)
			}
		default:
			return spec, fmt.Errorf("line %d: %s in the final stage is not supported by ociimage", in.Line, in.Cmd)
		}
	}
	return spec, nil
}
