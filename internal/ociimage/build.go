package ociimage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options say where the final stage's COPY sources are and how to stamp
// the image.
type Options struct {
	// Sources maps each COPY source of the final stage (a path in the
	// build stage, e.g. /out/strata) to a local file or directory.
	Sources map[string]string
	// Ref is the image's name in the layout's index
	// (org.opencontainers.image.ref.name), e.g. strata:latest.
	Ref string
	// Arch is the GOARCH the binary was built for.
	Arch string
	// Created stamps the config, history and file times (zero: the Unix
	// epoch, for reproducible layouts).
	Created time.Time
}

// Build writes the image of spec as an OCI image layout in dir (created if
// needed; an existing index is replaced) and returns its manifest digest.
func Build(spec ImageSpec, dir string, opts Options) (v1.Hash, error) {
	if spec.Base != "scratch" {
		return v1.Hash{}, fmt.Errorf("final stage FROM %s: only FROM scratch is supported", spec.Base)
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Unix(0, 0).UTC()
	}
	layerTar, err := layerTar(spec.Copies, opts.Sources, created)
	if err != nil {
		return v1.Hash{}, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layer: %w", err)
	}
	cfg := v1.Config{
		User:       spec.User,
		Env:        spec.Env,
		Entrypoint: spec.Entrypoint,
		Cmd:        spec.Cmd,
		WorkingDir: spec.WorkingDir,
	}
	if len(spec.ExposedPorts) > 0 {
		cfg.ExposedPorts = map[string]struct{}{}
		for _, p := range spec.ExposedPorts {
			cfg.ExposedPorts[p] = struct{}{}
		}
	}
	if len(spec.Volumes) > 0 {
		cfg.Volumes = map[string]struct{}{}
		for _, v := range spec.Volumes {
			cfg.Volumes[v] = struct{}{}
		}
	}
	if len(spec.Labels) > 0 {
		cfg.Labels = spec.Labels
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: opts.Arch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return v1.Hash{}, err
	}
	var copied []string
	for _, c := range spec.Copies {
		copied = append(copied, c.Src+" "+c.Dest)
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "COPY " + strings.Join(copied, "; "), Comment: "internal/ociimage"},
	})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("append layer: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return v1.Hash{}, err
	}
	p, err := layout.Write(dir, mutate.IndexMediaType(empty.Index, types.OCIImageIndex))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("write layout: %w", err)
	}
	annotations := map[string]string{}
	if opts.Ref != "" {
		annotations["org.opencontainers.image.ref.name"] = opts.Ref
	}
	if err := p.AppendImage(img, layout.WithAnnotations(annotations),
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: opts.Arch})); err != nil {
		return v1.Hash{}, fmt.Errorf("write image: %w", err)
	}
	return img.Digest()
}

// layerTar is the one layer: each COPY's file or directory tree at its
// destination, owned by its --chown, with the parent directories (root's,
// 0755) before them.
func layerTar(copies []Copy, sources map[string]string, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	addParents := func(p string) error {
		var parents []string
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range copies {
		local, ok := sources[c.Src]
		if !ok {
			return nil, fmt.Errorf("COPY --from=%s %s: no local source given for it", c.From, c.Src)
		}
		dest := strings.TrimPrefix(path.Clean(c.Dest), "/")
		if dest == "" || dest == "." {
			return nil, fmt.Errorf("COPY %s %s: copying to / is not supported", c.Src, c.Dest)
		}
		if err := addParents(dest); err != nil {
			return nil, err
		}
		err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(local, p)
			if err != nil {
				return err
			}
			name := dest
			if rel != "." {
				name = path.Join(dest, filepath.ToSlash(rel))
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			hdr := &tar.Header{Name: name, Mode: int64(info.Mode().Perm()), Uid: c.UID, Gid: c.GID, ModTime: mtime, Format: tar.FormatPAX}
			switch {
			case d.IsDir():
				hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
				dirs[name] = true
				return tw.WriteHeader(hdr)
			case info.Mode().IsRegular():
				hdr.Typeflag, hdr.Size = tar.TypeReg, info.Size()
				if err := tw.WriteHeader(hdr); err != nil {
					return err
				}
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(tw, f)
				return err
			}
			return fmt.Errorf("%s: only regular files and directories can be copied", p)
		})
		if err != nil {
			return nil, fmt.Errorf("COPY %s %s: %w", c.Src, c.Dest, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// StrataSources maps the build-stage outputs deploy/Dockerfile copies
// into the image to local paths: the binary and the (empty) data
// directory that becomes /var/lib/strata.
func StrataSources(binary, dataDir string) map[string]string {
	return map[string]string{"/out/strata": binary, "/out/data": dataDir}
}

// BuildBinary builds cmd/strata of the module at root into out with
// CGO_ENABLED=0 (a static binary), version and commit stamped in, for GOOS
// linux and the given GOARCH. With release it is built as
// deploy/Dockerfile's build stage does: -trimpath and stripped (-s -w);
// without, the build reuses more of Go's build cache (tests).
func BuildBinary(ctx context.Context, root, out, arch, version, commit string, release bool) error {
	ldflags := "-X github.com/strata-io/strata/internal/version.version=" + version +
		" -X github.com/strata-io/strata/internal/version.commit=" + commit
	args := []string{"build", "-o", out}
	if release {
		ldflags = "-s -w " + ldflags
		args = append(args, "-trimpath")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "-ldflags", ldflags, "./cmd/strata")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}
