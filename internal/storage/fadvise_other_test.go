//go:build !linux

package storage

import (
	"errors"

	"github.com/strata-io/strata/internal/storage/vfs"
)

func fadviseDontNeed(vfs.File) error { return errors.ErrUnsupported }
