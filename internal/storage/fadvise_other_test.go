//go:build !linux

package storage

import (
	"errors"
	"os"
)

func fadviseDontNeed(*os.File) error { return errors.ErrUnsupported }
