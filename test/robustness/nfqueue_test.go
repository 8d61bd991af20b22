//go:build robustness

package robustness

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// NB: the kernel here has no sch_netem (nor fq, so no earliest-departure-
// time pacing from eBPF either): `tc qdisc ... netem` fails with "Specified
// qdisc kind is unknown". Loss and jitter between brokers come instead from
// an NFQUEUE: iptables hands each broker-to-broker packet to this program,
// which drops some and gives the others their verdict after a random delay.
// It is netem's `loss P delay D J distribution normal` done in user space,
// reordering included.

// nfnetlink_queue protocol constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue     = 3
	nfqnlMsgPacket      = 0
	nfqnlMsgVerdict     = 1
	nfqnlMsgConfig      = 2
	nfqaCfgCmd          = 1
	nfqaCfgParams       = 2
	nfqaCfgQueueMaxlen  = 3
	nfqaCfgMask         = 4
	nfqaCfgFlags        = 5
	nfqaPacketHdr       = 1
	nfqaVerdictHdr      = 2
	nfqnlCfgCmdBind     = 1
	nfqnlCopyMeta       = 1
	nfqaCfgFFailOpen    = 1
	nfAccept            = 1
	nfDrop              = 0
	netlinkNoENOBUFS    = 5
	nfqueueMaxQueued    = 65536
	nfqueueRecvTimeout  = 200 * time.Millisecond
	nfqueueSocketBuffer = 8 << 20
)

// netem is one namespace's queue 0: it drops a fraction of the packets and
// delays the rest by a normally distributed time (clamped to [0,
// mean+3*jitter]). Run owns the socket; Close stops it and returns once
// every held packet has its verdict.
type netem struct {
	fd     int
	queue  uint16
	loss   float64
	mean   time.Duration
	jitter time.Duration
	rng    *rand.Rand // owned by readLoop

	stop    atomic.Bool
	loopWG  sync.WaitGroup // the read loop
	heldWG  sync.WaitGroup // packets waiting for their verdict
	passed  atomic.Int64
	dropped atomic.Int64
	errs    atomic.Int64 // verdicts the kernel refused
}

// openNetem binds queue 0 in the named network namespace (a socket stays in
// the namespace it was made in, whatever thread later uses it).
func openNetem(nsName string, loss float64, mean, jitter time.Duration, seed uint64) (*netem, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		defer orig.Close()
		f, err := os.Open("/var/run/netns/" + nsName)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- res{-1, fmt.Errorf("setns %s: %w", nsName, err)}
			return
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		// NB: the thread goes back to its namespace before anything else
		// runs on it. A thread that cannot stays locked, so it ends with
		// this goroutine; that is the last resort, because a thread's
		// end also kills the processes it started (the nodes' Pdeathsig).
		if uerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); uerr == nil {
			runtime.UnlockOSThread()
		}
		ch <- res{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, fmt.Errorf("netlink socket in %s: %w", nsName, r.err)
	}
	q := &netem{fd: r.fd, loss: loss, mean: mean, jitter: jitter, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	if err := q.configure(); err != nil {
		unix.Close(q.fd)
		return nil, fmt.Errorf("nfqueue in %s: %w", nsName, err)
	}
	q.loopWG.Add(1)
	go q.readLoop()
	return q, nil
}

func (q *netem) configure() error {
	if err := unix.Bind(q.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, nfqueueSocketBuffer)
	unix.SetsockoptInt(q.fd, unix.SOL_NETLINK, netlinkNoENOBUFS, 1)
	tv := unix.NsecToTimeval(nfqueueRecvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("SO_RCVTIMEO: %w", err)
	}
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	steps := []struct {
		what string
		attr []byte
	}{
		{"bind queue", nlattr(nfqaCfgCmd, []byte{nfqnlCfgCmdBind, 0, 0, 0})},
		// Metadata only: the packet id is all a verdict needs.
		{"copy mode", nlattr(nfqaCfgParams, append(be32(0), nfqnlCopyMeta))},
		{"queue length", nlattr(nfqaCfgQueueMaxlen, be32(nfqueueMaxQueued))},
		// A full queue lets packets through rather than dropping them.
		{"fail open", append(nlattr(nfqaCfgFlags, be32(nfqaCfgFFailOpen)), nlattr(nfqaCfgMask, be32(nfqaCfgFFailOpen))...)},
	}
	for i, s := range steps {
		msg := nlmsg(nfnlSubsysQueue<<8|nfqnlMsgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, uint32(i+1), q.queue, s.attr)
		if err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		if err := q.readAck(uint32(i + 1)); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

// readAck waits for the NLMSG_ERROR answering seq.
func (q *netem) readAck(seq uint32) error {
	buf := make([]byte, 8192)
	for range 20 {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if err != nil {
			return err
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := binary.NativeEndian.Uint32(b[0:4])
			if l < unix.NLMSG_HDRLEN || int(l) > len(b) {
				break
			}
			typ, s := binary.NativeEndian.Uint16(b[4:6]), binary.NativeEndian.Uint32(b[8:12])
			if typ == unix.NLMSG_ERROR && s == seq && l >= unix.NLMSG_HDRLEN+4 {
				if code := int32(binary.NativeEndian.Uint32(b[16:20])); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
			b = b[nlAlign(int(l)):]
		}
	}
	return errors.New("no acknowledgement")
}

func (q *netem) readLoop() {
	defer q.loopWG.Done()
	buf := make([]byte, 1<<16)
	for !q.stop.Load() {
		n, _, err := unix.Recvfrom(q.fd, buf, 0)
		if err != nil {
			// EAGAIN: the receive timeout, to look at stop again. Other
			// errors (ENOBUFS is switched off) are not expected; the
			// packets concerned stay queued and TCP resends them.
			continue
		}
		for b := buf[:n]; len(b) >= unix.NLMSG_HDRLEN; {
			l := int(binary.NativeEndian.Uint32(b[0:4]))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				break
			}
			if typ := binary.NativeEndian.Uint16(b[4:6]); typ == nfnlSubsysQueue<<8|nfqnlMsgPacket {
				if id, ok := packetID(b[unix.NLMSG_HDRLEN+4 : l]); ok {
					q.decide(id)
				}
			}
			b = b[min(nlAlign(l), len(b)):]
		}
	}
}

// decide drops the packet or schedules its acceptance.
func (q *netem) decide(id uint32) {
	if q.rng.Float64() < q.loss {
		q.dropped.Add(1)
		q.verdict(id, nfDrop)
		return
	}
	d := q.mean + time.Duration(q.rng.NormFloat64()*float64(q.jitter))
	d = max(0, min(d, q.mean+3*q.jitter))
	q.heldWG.Add(1)
	time.AfterFunc(d, func() {
		defer q.heldWG.Done()
		q.passed.Add(1)
		q.verdict(id, nfAccept)
	})
}

func (q *netem) verdict(id uint32, v uint32) {
	hdr := binary.BigEndian.AppendUint32(nil, v)
	hdr = binary.BigEndian.AppendUint32(hdr, id)
	msg := nlmsg(nfnlSubsysQueue<<8|nfqnlMsgVerdict, unix.NLM_F_REQUEST, 0, q.queue, nlattr(nfqaVerdictHdr, hdr))
	if err := unix.Sendto(q.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		q.errs.Add(1)
	}
}

// Close stops reading, waits for every held packet's verdict, and closes
// the socket (the kernel then lets packets pass: --queue-bypass). Remove
// the iptables rules first, so no new packet is queued meanwhile.
func (q *netem) Close() {
	q.stop.Store(true)
	q.loopWG.Wait()
	q.heldWG.Wait()
	unix.Close(q.fd)
}

// packetID finds NFQA_PACKET_HDR in a packet message's attributes.
func packetID(attrs []byte) (uint32, bool) {
	for len(attrs) >= 4 {
		l := int(binary.NativeEndian.Uint16(attrs[0:2]))
		typ := binary.NativeEndian.Uint16(attrs[2:4]) & 0x3fff
		if l < 4 || l > len(attrs) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(attrs[4:8]), true
		}
		attrs = attrs[min(nlAlign(l), len(attrs)):]
	}
	return 0, false
}

func nlAlign(n int) int { return (n + 3) &^ 3 }

// nlattr encodes one netlink attribute, padded to 4 bytes.
func nlattr(typ uint16, data []byte) []byte {
	b := binary.NativeEndian.AppendUint16(nil, uint16(4+len(data)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// nlmsg encodes a netlink message with an nfgenmsg header for queue.
func nlmsg(typ, flags uint16, seq uint32, queue uint16, attrs []byte) []byte {
	b := binary.NativeEndian.AppendUint32(nil, uint32(unix.NLMSG_HDRLEN+4+len(attrs)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, unix.AF_UNSPEC, 0) // nfgenmsg: family, version NFNETLINK_V0
	b = binary.BigEndian.AppendUint16(b, queue)
	return append(b, attrs...)
}
