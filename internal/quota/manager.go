package quota

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-io/strata/internal/metadata"
)

// Kind is what a user/client-id quota measures.
type Kind uint8

const (
	// Produce is producer_byte_rate: bytes of produce requests per second.
	Produce Kind = iota
	// Fetch is consumer_byte_rate: bytes of consumer fetch responses per
	// second.
	Fetch
	// Request is request_percentage: time spent handling the client's
	// requests, as a percentage of one thread (100 = one thread busy).
	Request
	// ControllerMutation is controller_mutation_rate: partitions created
	// or deleted per second (KIP-599).
	ControllerMutation
	numKinds
)

var kindKeys = [numKinds]string{ProducerByteRate, ConsumerByteRate, RequestPercentage, ControllerMutationRate}

// String returns the quota key the kind is configured with.
func (k Kind) String() string { return kindKeys[k] }

// Config configures a Manager.
type Config struct {
	// Samples is quota.window.num: the samples a rate is measured over.
	Samples int
	// Window is quota.window.size.seconds: the span of one sample.
	Window time.Duration
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns Kafka's defaults: 11 samples of 1 second.
func DefaultConfig() Config { return Config{Samples: 11, Window: time.Second} }

// Validate checks the settings.
func (c Config) Validate() error {
	var errs []error
	if c.Samples < 1 {
		errs = append(errs, fmt.Errorf("quota.window.num %d is below 1", c.Samples))
	}
	if c.Window < time.Millisecond {
		errs = append(errs, fmt.Errorf("quota window %v is below 1ms", c.Window))
	}
	return errors.Join(errs...)
}

// sensorIdleExpiry drops the measurement of a client idle this long
// (Kafka's quota sensors expire after an hour of inactivity).
const sensorIdleExpiry = time.Hour

// Manager measures clients against the quotas of the latest metadata image
// and says how long to throttle them. Safe for concurrent use.
type Manager struct {
	cfg   Config    // set in New, never changed
	epoch time.Time // set in New; rates count time from it

	// table holds the quotas of the latest image; replaced by Update.
	table atomic.Pointer[table]

	// sensors holds the rate of each measured client: sensorKey → *rate.
	sensors sync.Map
	sweep   struct {
		sync.Mutex
		last time.Duration
	}
}

// New returns a Manager with no quotas.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Manager{cfg: cfg, epoch: cfg.Now()}
	m.table.Store(&table{})
	return m, nil
}

// ucKey names a user/client-id entity: each component present or not, the
// default or a name.
type ucKey struct {
	user, client               string
	hasUser, hasClient         bool
	userDefault, clientDefault bool
}

// level is one step of Kafka's precedence: which entity shape to look up,
// and which components name the measured client (the sensor's tags).
type level struct {
	hasUser, hasClient         bool
	userDefault, clientDefault bool
}

// levels is Kafka's precedence, highest first:
// /config/users/<user>/clients/<client-id>, /config/users/<user>/clients/<default>,
// /config/users/<user>, /config/users/<default>/clients/<client-id>,
// /config/users/<default>/clients/<default>, /config/users/<default>,
// /config/clients/<client-id>, /config/clients/<default>.
var levels = [8]level{
	{hasUser: true, hasClient: true},
	{hasUser: true, hasClient: true, clientDefault: true},
	{hasUser: true},
	{hasUser: true, hasClient: true, userDefault: true},
	{hasUser: true, hasClient: true, userDefault: true, clientDefault: true},
	{hasUser: true, userDefault: true},
	{hasClient: true},
	{hasClient: true, clientDefault: true},
}

func (l level) key(user, client string) ucKey {
	k := ucKey{hasUser: l.hasUser, hasClient: l.hasClient, userDefault: l.userDefault, clientDefault: l.clientDefault}
	if l.hasUser && !l.userDefault {
		k.user = user
	}
	if l.hasClient && !l.clientDefault {
		k.client = client
	}
	return k
}

func shapeOf(k ucKey) int {
	for i, l := range levels {
		if l.hasUser == k.hasUser && l.hasClient == k.hasClient && l.userDefault == k.userDefault && l.clientDefault == k.clientDefault {
			return i
		}
	}
	return -1
}

// table is the quotas of one image, immutable once stored.
type table struct {
	// levels[k] has bit i set when some entity of precedence level i sets
	// kind k; zero means kind k is not configured at all.
	levels [numKinds]uint8
	uc     map[ucKey]*[numKinds]float64 // 0: not set (quotas are > 0)

	ipEnabled bool
	ip        map[netip.Addr]float64
	ipDefault float64 // 0: none
}

// Update installs the quotas of img; they apply to the next request.
func (m *Manager) Update(img *metadata.Image) {
	t := &table{}
	for _, q := range img.ClientQuotas() {
		var k ucKey
		ipEntity, ipDefault := false, false
		var ip netip.Addr
		valid := true
		for _, c := range q.Entity {
			switch c.Type {
			case metadata.QuotaEntityUser:
				k.hasUser, k.userDefault = true, c.Name == nil
				if c.Name != nil {
					k.user = *c.Name
				}
			case metadata.QuotaEntityClientID:
				k.hasClient, k.clientDefault = true, c.Name == nil
				if c.Name != nil {
					k.client = *c.Name
				}
			case metadata.QuotaEntityIP:
				ipEntity, ipDefault = true, c.Name == nil
				if c.Name != nil {
					a, err := netip.ParseAddr(*c.Name)
					valid = err == nil
					ip = a.Unmap()
				}
			default:
				valid = false
			}
		}
		if !valid {
			continue
		}
		if ipEntity {
			v := q.Values[ConnectionCreationRate]
			if v <= 0 || k.hasUser || k.hasClient {
				continue
			}
			t.ipEnabled = true
			if ipDefault {
				t.ipDefault = v
			} else {
				if t.ip == nil {
					t.ip = map[netip.Addr]float64{}
				}
				t.ip[ip] = v
			}
			continue
		}
		shape := shapeOf(k)
		if shape < 0 {
			continue
		}
		var vals [numKinds]float64
		any := false
		for kind, key := range kindKeys {
			if v := q.Values[key]; v > 0 {
				vals[kind] = v
				t.levels[kind] |= 1 << shape
				any = true
			}
		}
		if any {
			if t.uc == nil {
				t.uc = map[ucKey]*[numKinds]float64{}
			}
			t.uc[k] = &vals
		}
	}
	m.table.Store(t)
}

// Enabled reports whether any entity has a quota of kind k: when false,
// the other methods for k do nothing, and callers may skip measuring.
func (m *Manager) Enabled(k Kind) bool { return m.table.Load().levels[k] != 0 }

// sensorKey names one measured client: the components of the entity whose
// quota applies, with the client's own names (Kafka's quota metric tags).
type sensorKey struct {
	kind         Kind
	user, client string
}

// resolve finds the quota of kind k for the client, by precedence.
func (t *table) resolve(k Kind, user, client string) (bound float64, key sensorKey, ok bool) {
	bits := t.levels[k]
	if bits == 0 {
		return 0, sensorKey{}, false
	}
	for i, l := range levels {
		if bits&(1<<i) == 0 {
			continue
		}
		vals := t.uc[l.key(user, client)]
		if vals == nil || vals[k] <= 0 {
			continue
		}
		key := sensorKey{kind: k}
		if l.hasUser {
			key.user = user
		}
		if l.hasClient {
			key.client = client
		}
		return vals[k], key, true
	}
	return 0, sensorKey{}, false
}

func (m *Manager) now() time.Duration { return m.cfg.Now().Sub(m.epoch) }

// meter measures one client's usage of one kind of quota.
type meter interface {
	// record adds v (takes it back when negative) at now and returns how
	// long the client must wait to be back within bound.
	record(cfg *Config, bound, v float64, now time.Duration) time.Duration
	// wait is record without a value.
	wait(cfg *Config, bound float64, now time.Duration) time.Duration
	// idleSince is when the meter last saw a value.
	idleSince() time.Duration
}

// newMeters makes the meter of each kind: a token bucket for the byte
// rates and the controller mutation rate, Kafka's sampled rate for
// request_percentage.
var newMeters = [numKinds]func() meter{
	Produce:            newBucket,
	Fetch:              newBucket,
	Request:            newRate,
	ControllerMutation: newBucket,
}

func newBucket() meter { return &bucket{} }
func newRate() meter   { return &rate{} }

// sensor returns the meter of key (a sensorKey or ipSensorKey), creating
// it with newMeter.
func (m *Manager) sensor(key any, now time.Duration, newMeter func() meter) meter {
	if r, ok := m.sensors.Load(key); ok {
		return r.(meter)
	}
	r, loaded := m.sensors.LoadOrStore(key, newMeter())
	if !loaded {
		m.maybeSweep(now)
	}
	return r.(meter)
}

func (m *Manager) ucSensor(key sensorKey, now time.Duration) meter {
	return m.sensor(key, now, newMeters[key.kind])
}

// maybeSweep drops sensors idle for sensorIdleExpiry, at most once a
// minute, on the goroutine that created a sensor.
func (m *Manager) maybeSweep(now time.Duration) {
	m.sweep.Lock()
	if now-m.sweep.last < time.Minute {
		m.sweep.Unlock()
		return
	}
	m.sweep.last = now
	m.sweep.Unlock()
	m.sensors.Range(func(k, v any) bool {
		if now-v.(meter).idleSince() > sensorIdleExpiry {
			m.sensors.Delete(k)
		}
		return true
	})
}

// Record adds v to the client's usage of kind k and returns how long to
// throttle it (0 when within its quota or when no quota applies).
func (m *Manager) Record(k Kind, user, client string, v float64) time.Duration {
	bound, key, ok := m.table.Load().resolve(k, user, client)
	if !ok {
		return 0
	}
	now := m.now()
	d := m.ucSensor(key, now).record(&m.cfg, bound, v, now)
	if k == Request {
		d = min(d, m.cfg.Window) // Kafka bounds request throttling by one window
	}
	return d
}

// Unrecord takes back v recorded for a response that was not sent (a
// throttled fetch answers empty, as Kafka's unrecordQuotaSensor).
func (m *Manager) Unrecord(k Kind, user, client string, v float64) {
	bound, key, ok := m.table.Load().resolve(k, user, client)
	if !ok {
		return
	}
	now := m.now()
	m.ucSensor(key, now).record(&m.cfg, bound, -v, now)
}

// RecordStrict is KIP-599's strict mode for controller mutations: if the
// client is over its quota already, nothing is recorded and the throttle
// time is returned with rejected set; else v is recorded (even if that
// takes it over) and the resulting throttle time returned.
func (m *Manager) RecordStrict(k Kind, user, client string, v float64) (throttle time.Duration, rejected bool) {
	bound, key, ok := m.table.Load().resolve(k, user, client)
	if !ok {
		return 0, false
	}
	now := m.now()
	s := m.ucSensor(key, now)
	if d := s.wait(&m.cfg, bound, now); d > 0 {
		return d, true
	}
	return s.record(&m.cfg, bound, v, now), false
}

// MaxValueInWindow is the most of kind k the client may use in one
// measurement (quota × (samples-1) windows), bounding a fetch response as
// Kafka does; ok is false when no quota applies.
func (m *Manager) MaxValueInWindow(k Kind, user, client string) (v float64, ok bool) {
	bound, _, ok := m.table.Load().resolve(k, user, client)
	if !ok {
		return 0, false
	}
	return bound * float64(m.cfg.Samples-1) * m.cfg.Window.Seconds(), true
}

// RecordConnection counts a new connection from ip against its
// connection_creation_rate. When that exceeds the quota the connection is
// not counted and the returned duration is how long to hold it before
// closing it (Kafka's ConnectionThrottledException: the acceptor closes
// the socket once the throttle time has passed).
func (m *Manager) RecordConnection(ip netip.Addr) time.Duration {
	t := m.table.Load()
	if !t.ipEnabled {
		return 0
	}
	ip = ip.Unmap()
	bound, ok := t.ip[ip]
	if !ok {
		bound = t.ipDefault
	}
	if bound <= 0 {
		return 0
	}
	now := m.now()
	r := m.sensor(ipSensorKey{ip}, now, newRate)
	d := min(r.record(&m.cfg, bound, 1, now), m.cfg.Window)
	if d > 0 {
		r.record(&m.cfg, bound, -1, now)
	}
	return d
}

// ipSensorKey names the connection rate of one IP address.
type ipSensorKey struct{ ip netip.Addr }
