package storage

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/strata-io/strata/internal/storage/vfs"
)

// metaPropertiesFile is Kafka's per-directory identity file: a Java
// properties file with version=1, node.id and directory.id (KIP-858; the
// directory id is a random Uuid in Kafka's unpadded base64url form).
// NB: Kafka also writes cluster.id there; Strata keeps the cluster id in
// the metadata log and leaves it out.
const metaPropertiesFile = "meta.properties"

// DirID is a log directory's id (KIP-858), a Kafka Uuid.
type DirID [16]byte

// String returns Kafka's text form: unpadded URL-safe base64.
func (id DirID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// ParseDirID parses DirID.String's form.
func ParseDirID(s string) (DirID, error) {
	var id DirID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("directory id %q: not 16 bytes of unpadded base64url", s)
	}
	copy(id[:], b)
	return id, nil
}

// newDirID returns a random version-4 id that is none of Kafka's reserved
// directory ids (UNASSIGNED 0, LOST 1, MIGRATING 2: all zero but the last
// byte) and whose text does not start with '-'.
func newDirID() (DirID, error) {
	for {
		var id DirID
		if _, err := rand.Read(id[:]); err != nil {
			return id, fmt.Errorf("new directory id: %w", err)
		}
		id[6] = id[6]&0x0f | 0x40
		id[8] = id[8]&0x3f | 0x80
		if !strings.HasPrefix(id.String(), "-") {
			return id, nil
		}
	}
}

// loadMetaProperties reads dir's meta.properties, or writes a new one with
// a fresh directory id when there is none (or it lacks a directory id). A
// file naming another node id is refused, as Kafka refuses it. nodeID < 0
// skips that check and leaves node.id out of a new file.
func loadMetaProperties(fsys vfs.FS, dir string, nodeID int32) (DirID, error) {
	path := filepath.Join(dir, metaPropertiesFile)
	props := map[string]string{}
	b, err := vfs.ReadFile(fsys, path)
	switch {
	case err == nil:
		props = parseProperties(b)
	case errors.Is(err, os.ErrNotExist):
	default:
		return DirID{}, fmt.Errorf("read %s: %w", path, err)
	}
	if v, ok := props["node.id"]; ok && nodeID >= 0 && v != strconv.Itoa(int(nodeID)) {
		return DirID{}, fmt.Errorf("%s: node.id %s, but this is node %d", path, v, nodeID)
	}
	if v, ok := props["directory.id"]; ok {
		id, err := ParseDirID(v)
		if err != nil {
			return DirID{}, fmt.Errorf("%s: %w", path, err)
		}
		return id, nil
	}
	id, err := newDirID()
	if err != nil {
		return DirID{}, err
	}
	props["version"] = "1"
	props["directory.id"] = id.String()
	if nodeID >= 0 {
		props["node.id"] = strconv.Itoa(int(nodeID))
	}
	if err := writeFileAtomic(fsys, path, formatProperties(props)); err != nil {
		return DirID{}, err
	}
	return id, nil
}

// parseProperties reads the key=value lines of a Java properties file
// (comments and blank lines skipped; no escapes or continuations, which
// Kafka's meta.properties never has).
func parseProperties(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

func formatProperties(props map[string]string) []byte {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteString("#\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	return b.Bytes()
}
