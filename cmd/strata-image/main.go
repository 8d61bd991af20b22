// Command strata-image builds Strata's container image as an OCI image
// layout, without a container engine: the static binary built as
// deploy/Dockerfile's build stage builds it, in the image its final stage
// describes. `make image` runs it; load the result with e.g.
// `skopeo copy oci:image:strata:latest docker-daemon:strata:latest` or
// `podman load -i` after `tar -C image -cf strata.tar .`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"

	"github.com/strata-io/strata/internal/ociimage"
)

func main() {
	out := flag.String("o", "image", "directory to write the OCI image layout to (replaced)")
	dockerfile := flag.String("dockerfile", "deploy/Dockerfile", "the Dockerfile whose final stage describes the image")
	ref := flag.String("ref", "strata:latest", "image name in the layout's index")
	arch := flag.String("arch", runtime.GOARCH, "GOARCH of the image")
	version := flag.String("version", "dev", "version stamped into the binary")
	commit := flag.String("commit", "unknown", "commit stamped into the binary")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *dockerfile, *ref, *arch, *version, *commit); err != nil {
		fmt.Fprintln(os.Stderr, "strata-image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, dockerfile, ref, arch, version, commit string) error {
	f, err := os.Open(dockerfile)
	if err != nil {
		return err
	}
	df, err := ociimage.Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", dockerfile, err)
	}
	spec, err := df.Spec()
	if err != nil {
		return fmt.Errorf("%s: %w", dockerfile, err)
	}
	tmp, err := os.MkdirTemp("", "strata-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, data := filepath.Join(tmp, "strata"), filepath.Join(tmp, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return err
	}
	if err := ociimage.BuildBinary(ctx, ".", bin, arch, version, commit, true); err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	digest, err := ociimage.Build(spec, out, ociimage.Options{Sources: ociimage.StrataSources(bin, data), Ref: ref, Arch: arch})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s (%s) at %s\n", ref, digest, arch, out)
	return nil
}
