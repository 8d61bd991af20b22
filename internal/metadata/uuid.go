package metadata

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// UUID is Kafka's 128-bit Uuid, used for topic IDs, incarnation IDs and
// cluster IDs. Its text form is unpadded URL-safe base64 (22 characters), as
// Kafka prints it.
type UUID [16]byte

// ZeroUUID is Kafka's ZERO_UUID: "no topic ID".
var ZeroUUID UUID

// metadataTopicID is Kafka's METADATA_TOPIC_ID (0, 1), reserved.
var metadataTopicID = UUID{15: 1}

// String returns the unpadded URL-safe base64 form.
func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// IsZero reports whether u is ZeroUUID.
func (u UUID) IsZero() bool { return u == ZeroUUID }

// ParseUUID parses the 22-character base64 form produced by String.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != len(u) {
		return u, fmt.Errorf("parse uuid %q: not 16 bytes of unpadded base64url", s)
	}
	copy(u[:], b)
	return u, nil
}

// NewUUID returns a random version-4 UUID read from rnd (crypto/rand.Reader
// in production, a seeded source in tests). Like Kafka's Uuid.randomUuid it
// never returns a reserved ID (zero, or the metadata topic's) nor one whose
// text form starts with '-', which command-line tools would take for a flag.
func NewUUID(rnd io.Reader) (UUID, error) {
	for range 64 {
		var u UUID
		if _, err := io.ReadFull(rnd, u[:]); err != nil {
			return ZeroUUID, fmt.Errorf("new uuid: %w", err)
		}
		u[6] = u[6]&0x0f | 0x40 // version 4
		u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
		if u == ZeroUUID || u == metadataTopicID || strings.HasPrefix(u.String(), "-") {
			continue
		}
		return u, nil
	}
	return ZeroUUID, fmt.Errorf("new uuid: random source keeps returning reserved ids")
}
