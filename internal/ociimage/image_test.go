package ociimage_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/spf13/pflag"

	"github.com/strata-io/strata/internal/config"
	"github.com/strata-io/strata/internal/ociimage"
)

const (
	dockerfilePath = "../../deploy/Dockerfile"
	composePath    = "../../deploy/compose.yaml"
	repoRoot       = "../.."
)

func parseDockerfile(t *testing.T) (ociimage.Dockerfile, ociimage.ImageSpec) {
	t.Helper()
	f, err := os.Open(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	df, err := ociimage.Parse(f)
	if err != nil {
		t.Fatalf("Parse %s: %v", dockerfilePath, err)
	}
	spec, err := df.Spec()
	if err != nil {
		t.Fatalf("Spec %s: %v", dockerfilePath, err)
	}
	return df, spec
}

// serveConfig loads `strata serve` ARGS... with the image's environment,
// as the container would start.
func serveConfig(t *testing.T, env, args []string) config.Static {
	t.Helper()
	defaults := config.DefaultStatic()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	path := config.BindFlags(fs, &defaults)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("serve %v: %v", args, err)
	}
	st, err := config.Load(fs, *path, env)
	if err != nil {
		t.Fatalf("serve %v with the image's environment %v: %v (every STRATA_* of the image must be a serve setting)", args, env, err)
	}
	return st
}

// The Dockerfile is what issue 14 asks for.
func TestDockerfileIsTheIssuesImage(t *testing.T) {
	df, spec := parseDockerfile(t)
	if len(df.Stages) != 2 || df.Stages[0].Name != "build" {
		t.Fatalf("stages %+v, want a build stage and the image", df.Stages)
	}
	static := false
	for _, in := range df.Stages[0].Instructions {
		if in.Cmd == "RUN" && strings.Contains(in.Raw, "CGO_ENABLED=0 go build") && strings.Contains(in.Raw, "./cmd/strata") {
			static = true
		}
	}
	if !static {
		t.Errorf("build stage has no RUN CGO_ENABLED=0 go build ... ./cmd/strata")
	}
	want := ociimage.ImageSpec{
		Base: "scratch",
		Copies: []ociimage.Copy{
			{From: "build", Src: "/out/strata", Dest: "/strata"},
			{From: "build", Src: "/out/data", Dest: "/var/lib/strata", UID: 65532, GID: 65532},
		},
		User:         "65532:65532",
		Env:          []string{"STRATA_DATA_DIR=/var/lib/strata", "STRATA_HTTP_LISTEN=0.0.0.0:9644"},
		Volumes:      []string{"/var/lib/strata"},
		ExposedPorts: []string{"9092/tcp", "9644/tcp"},
		Entrypoint:   []string{"/strata", "serve"},
		Labels:       map[string]string{},
	}
	if diff := cmp.Diff(want, spec); diff != "" {
		t.Errorf("final stage of %s (-want +got):\n%s", dockerfilePath, diff)
	}
	st := serveConfig(t, spec.Env, spec.Cmd)
	if st.DataDir != "/var/lib/strata" {
		t.Errorf("data dir in the container: %q, want /var/lib/strata", st.DataDir)
	}
	if _, port, _ := strings.Cut(st.Listen, ":"); port != "9092" || strings.HasPrefix(st.Listen, "127.") {
		t.Errorf("Kafka listener in the container: %q, want every interface on 9092", st.Listen)
	}
}

func TestParseRefusesWhatItCannotBuild(t *testing.T) {
	tests := []struct{ name, give, want string }{
		{"RUN in the image", "FROM scratch\nRUN true\n", "RUN in the final stage"},
		{"shell-form entrypoint", "FROM scratch\nENTRYPOINT /strata serve\n", "exec (JSON array) form"},
		{"named owner", "FROM scratch\nCOPY --chown=strata:strata a /a\n", "numeric UID:GID"},
		{"bad JSON", "FROM scratch\nCMD [\"a\",\n", "CMD"},
		{"no FROM", "USER 1\n", "before FROM"},
		{"dangling continuation", "FROM scratch\nUSER 1 \\\n", "ends inside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := ociimage.Parse(strings.NewReader(tt.give))
			if err == nil {
				_, err = df.Spec()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse+Spec(%q) = %v, want an error containing %q", tt.give, err, tt.want)
			}
		})
	}
}

// The image built without a container engine has the Dockerfile's config
// and one layer with the static binary and the data directory.
func TestImageLayoutMatchesDockerfile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the strata binary")
	}
	_, spec := parseDockerfile(t)
	tmp := t.TempDir()
	bin, data, out := filepath.Join(tmp, "strata"), filepath.Join(tmp, "data"), filepath.Join(tmp, "image")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Minute)
	defer cancel()
	begin := time.Now()
	// Not a release build (-trimpath would rebuild every package, minutes
	// on CI); static all the same.
	if err := ociimage.BuildBinary(ctx, repoRoot, bin, runtime.GOARCH, "v0.0.0-test", "abc123", false); err != nil {
		t.Fatal(err)
	}
	t.Logf("static build took %s", time.Since(begin))
	digest, err := ociimage.Build(spec, out, ociimage.Options{Sources: ociimage.StrataSources(bin, data), Ref: "strata:test", Arch: runtime.GOARCH})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	for _, f := range []string{"oci-layout", "index.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("layout has no %s: %v", f, err)
		}
	}

	idx, err := layout.ImageIndexFromPath(out)
	if err != nil {
		t.Fatalf("ImageIndexFromPath: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.Digest != digest || desc.MediaType != types.OCIManifestSchema1 || desc.Annotations["org.opencontainers.image.ref.name"] != "strata:test" ||
		desc.Platform == nil || desc.Platform.OS != "linux" || desc.Platform.Architecture != runtime.GOARCH {
		t.Errorf("index entry %+v, want %s, an OCI manifest named strata:test for linux/%s", desc, digest, runtime.GOARCH)
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	set := func(xs []string) map[string]struct{} {
		m := map[string]struct{}{}
		for _, x := range xs {
			m[x] = struct{}{}
		}
		return m
	}
	wantCfg := v1.Config{
		User: spec.User, Env: spec.Env, Entrypoint: spec.Entrypoint, Cmd: spec.Cmd,
		ExposedPorts: set(spec.ExposedPorts), Volumes: set(spec.Volumes),
	}
	if diff := cmp.Diff(wantCfg, cf.Config); diff != "" {
		t.Errorf("image config vs the Dockerfile (-want +got):\n%s", diff)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("config os %s arch %s diff ids %v, want linux/%s and one layer", cf.OS, cf.Architecture, cf.RootFS.DiffIDs, runtime.GOARCH)
	}

	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want 1", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s, want %s", mt, types.OCILayer)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	type entry struct {
		Type     byte
		Mode     int64
		UID, GID int
		Size     int64
	}
	entries := map[string]entry{}
	var names []string
	var binary []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("layer tar: %v", err)
		}
		names = append(names, h.Name)
		entries[h.Name] = entry{h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size}
		if h.Name == "strata" {
			if binary, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	built, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	wantEntries := map[string]entry{
		"strata":          {tar.TypeReg, 0o755, 0, 0, int64(len(built))},
		"var/":            {tar.TypeDir, 0o755, 0, 0, 0},
		"var/lib/":        {tar.TypeDir, 0o755, 0, 0, 0},
		"var/lib/strata/": {tar.TypeDir, 0o755, 65532, 65532, 0},
	}
	if diff := cmp.Diff(wantEntries, entries); diff != "" {
		t.Errorf("layer entries %v (-want +got):\n%s", names, diff)
	}
	if sha256.Sum256(binary) != sha256.Sum256(built) {
		t.Errorf("the binary in the layer differs from the one built (%d vs %d bytes)", len(binary), len(built))
	}

	// Static: no interpreter, no shared libraries (there are none in
	// FROM scratch).
	ef, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("the binary is not ELF: %v", err)
	}
	defer ef.Close()
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	libs, err := ef.ImportedLibraries()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) && ef.Section(".dynamic") != nil {
		t.Errorf("ImportedLibraries: %v", err)
	}
	if len(libs) != 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	t.Logf("image %s: binary %d bytes", digest, len(built))
}

// compose.yaml's services start valid `strata serve` configurations that
// form the README's three-node cluster.
func TestComposeFileIsThreeNodeCluster(t *testing.T) {
	_, spec := parseDockerfile(t)
	text, err := os.ReadFile(composePath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "dockerfile: deploy/Dockerfile") || !strings.Contains(string(text), "context: ..") {
		t.Errorf("%s does not build deploy/Dockerfile from the repository root", composePath)
	}
	type service struct {
		command, ports, volumes []string
	}
	services := map[string]*service{}
	var cur *service
	svcRE := regexp.MustCompile(`^  (strata[0-9]+):\s*$`)
	listRE := regexp.MustCompile(`^    (command|ports|volumes): (\[.*\])\s*$`)
	for line := range strings.Lines(string(text)) {
		line = strings.TrimRight(line, "\n")
		if m := svcRE.FindStringSubmatch(line); m != nil {
			cur = &service{}
			services[m[1]] = cur
			continue
		}
		if m := listRE.FindStringSubmatch(line); m != nil && cur != nil {
			var list []string
			if err := json.Unmarshal([]byte(m[2]), &list); err != nil {
				t.Fatalf("%s: %s: %v", composePath, line, err)
			}
			switch m[1] {
			case "command":
				cur.command = list
			case "ports":
				cur.ports = list
			case "volumes":
				cur.volumes = list
			}
		}
	}
	if len(services) != 3 {
		t.Fatalf("%s has services %v, want strata1..3", composePath, slices.Sorted(func(yield func(string) bool) {
			for k := range services {
				if !yield(k) {
					return
				}
			}
		}))
	}
	voters := map[string]bool{}
	for name, s := range services {
		st := serveConfig(t, spec.Env, s.command)
		if want := strings.TrimPrefix(name, "strata"); st.NodeID == 0 || name != "strata"+want || want != itoa(st.NodeID) {
			t.Errorf("%s: node id %d, want %s", name, st.NodeID, want)
		}
		voters[st.ControllerVoters] = true
		vs, err := st.Voters()
		if err != nil || len(vs) != 3 {
			t.Errorf("%s: voters %v (%v), want three", name, vs, err)
		}
		if !strings.Contains(st.AdvertisedListeners, "INTERNAL://"+name+":9092") {
			t.Errorf("%s: advertised listeners %q, want INTERNAL://%s:9092", name, st.AdvertisedListeners, name)
		}
		ext := "127.0.0.1:1909" + itoa(st.NodeID)
		if !strings.Contains(st.AdvertisedListeners, "EXTERNAL://"+ext) || !slices.Contains(s.ports, ext+":1909"+itoa(st.NodeID)) {
			t.Errorf("%s: EXTERNAL %s must be advertised and published (ports %v)", name, ext, s.ports)
		}
		if len(s.volumes) != 1 || !strings.HasSuffix(s.volumes[0], ":/var/lib/strata") {
			t.Errorf("%s: volumes %v, want one mounted at /var/lib/strata", name, s.volumes)
		}
		if st.DataDir != "/var/lib/strata" {
			t.Errorf("%s: data dir %q, want /var/lib/strata", name, st.DataDir)
		}
	}
	if len(voters) != 1 {
		t.Errorf("services disagree on --controller-voters: %v", voters)
	}
}

func itoa(n int32) string {
	b, _ := json.Marshal(n)
	return string(b)
}
