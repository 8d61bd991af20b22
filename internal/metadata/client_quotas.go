package metadata

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ClientQuotaRecordType is Kafka's ClientQuotaRecord; Strata's number for it
// is 24 (Kafka's is 14, which Strata's numbering does not follow).
const ClientQuotaRecordType RecordType = 24

// Quota entity types, as Kafka names them (ClientQuotaEntity).
const (
	QuotaEntityUser     = "user"
	QuotaEntityClientID = "client-id"
	QuotaEntityIP       = "ip"
)

// QuotaEntityComponent is one part of a quota entity: a type ("user",
// "client-id", "ip") and a name, nil for the type's default entity
// (Kafka's <default>).
type QuotaEntityComponent struct {
	Type string
	Name *string
}

// ClientQuotaRecord sets (Remove false) or removes one quota value of an
// entity (Kafka's ClientQuotaRecord). The entity's components have distinct
// types; their order does not matter.
type ClientQuotaRecord struct {
	Entity []QuotaEntityComponent
	Key    string
	Value  float64
	Remove bool
}

func (*ClientQuotaRecord) Type() RecordType { return ClientQuotaRecordType }
func (*ClientQuotaRecord) Version() uint8   { return 0 }

func (rec *ClientQuotaRecord) appendFields(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(rec.Entity)))
	for _, c := range rec.Entity {
		b = appendString(b, c.Type)
		b = appendNullableString(b, c.Name)
	}
	b = appendString(b, rec.Key)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(rec.Value))
	return appendBool(b, rec.Remove)
}

func (rec *ClientQuotaRecord) decodeFields(r *reader, _ uint8) {
	// Each component takes at least 2 bytes: a type length and a name length.
	n := r.length(2)
	if r.err != nil {
		return
	}
	if n > 0 {
		rec.Entity = make([]QuotaEntityComponent, n)
		for i := range rec.Entity {
			rec.Entity[i] = QuotaEntityComponent{Type: r.string(), Name: r.nullableString()}
		}
	}
	rec.Key = r.string()
	rec.Value = math.Float64frombits(uint64(r.int64()))
	rec.Remove = r.bool()
}

// ClientQuota is the quota values of one entity. A ClientQuota reachable
// from an Image is immutable.
type ClientQuota struct {
	// Entity is sorted by type.
	Entity []QuotaEntityComponent
	// Values by key (producer_byte_rate...); never empty in an image.
	Values map[string]float64
}

// Component returns the entity's component of type typ.
func (q *ClientQuota) Component(typ string) (QuotaEntityComponent, bool) {
	for _, c := range q.Entity {
		if c.Type == typ {
			return c, true
		}
	}
	return QuotaEntityComponent{}, false
}

// QuotaEntityKey is the canonical text of an entity, usable as a map key:
// components sorted by type, each its quoted type, then "=" and its quoted
// name unless it is the default; quoting keeps any name unambiguous.
func QuotaEntityKey(entity []QuotaEntityComponent) string {
	var sb strings.Builder
	for i, c := range sortedEntity(entity) {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.Quote(c.Type))
		if c.Name != nil {
			sb.WriteByte('=')
			sb.WriteString(strconv.Quote(*c.Name))
		}
	}
	return sb.String()
}

func sortedEntity(entity []QuotaEntityComponent) []QuotaEntityComponent {
	sorted := slices.Clone(entity)
	slices.SortFunc(sorted, func(a, b QuotaEntityComponent) int { return strings.Compare(a.Type, b.Type) })
	return sorted
}

// ClientQuotas returns every entity's quotas, sorted by QuotaEntityKey.
func (img *Image) ClientQuotas() []*ClientQuota {
	out := make([]*ClientQuota, 0, len(img.clientQuotas))
	for _, k := range slices.Sorted(maps.Keys(img.clientQuotas)) {
		out = append(out, img.clientQuotas[k])
	}
	return out
}

// ClientQuota returns the quotas of entity (nil when it has none).
func (img *Image) ClientQuota(entity []QuotaEntityComponent) *ClientQuota {
	return img.clientQuotas[QuotaEntityKey(entity)]
}

func (b *builder) clientQuota(r *ClientQuotaRecord) error {
	if len(r.Entity) == 0 {
		return fmt.Errorf("client quota %q without an entity", r.Key)
	}
	for i, c := range r.Entity {
		if c.Type == "" {
			return fmt.Errorf("client quota %q: empty entity type", r.Key)
		}
		for _, o := range r.Entity[:i] {
			if o.Type == c.Type {
				return fmt.Errorf("client quota %q: entity type %q listed twice", r.Key, c.Type)
			}
		}
	}
	if r.Key == "" {
		return fmt.Errorf("client quota with an empty key")
	}
	if !r.Remove && (math.IsNaN(r.Value) || math.IsInf(r.Value, 0)) {
		return fmt.Errorf("client quota %q: value %v is not finite", r.Key, r.Value)
	}
	if !b.clientQuotasCopied {
		b.next.clientQuotas = maps.Clone(b.next.clientQuotas)
		if b.next.clientQuotas == nil {
			b.next.clientQuotas = map[string]*ClientQuota{}
		}
		b.clientQuotasCopied = true
	}
	key := QuotaEntityKey(r.Entity)
	// Quotas change rarely: copy the entity's values on every record.
	q := &ClientQuota{Entity: sortedEntity(r.Entity), Values: map[string]float64{}}
	if cur := b.next.clientQuotas[key]; cur != nil {
		q.Entity, q.Values = cur.Entity, maps.Clone(cur.Values)
	}
	if r.Remove {
		delete(q.Values, r.Key)
	} else {
		q.Values[r.Key] = r.Value
	}
	if len(q.Values) == 0 {
		delete(b.next.clientQuotas, key)
	} else {
		b.next.clientQuotas[key] = q
	}
	b.keys.clientQuotas = true
	return nil
}

// clientQuotaRecords returns the records that rebuild the image's quotas.
func (img *Image) clientQuotaRecords() []Record {
	var recs []Record
	for _, q := range img.ClientQuotas() {
		for _, k := range slices.Sorted(maps.Keys(q.Values)) {
			recs = append(recs, &ClientQuotaRecord{Entity: q.Entity, Key: k, Value: q.Values[k]})
		}
	}
	return recs
}

func clientQuotasEqual(a, b map[string]*ClientQuota) bool {
	return maps.EqualFunc(a, b, func(x, y *ClientQuota) bool { return x == y || maps.Equal(x.Values, y.Values) })
}
