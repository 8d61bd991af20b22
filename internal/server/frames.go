package server

import (
	"math/bits"
	"sync"
)

// Request frames are pooled by power-of-two size class, from 1 KiB to
// 16 MiB; larger frames are rare (records are capped at 1 MiB per batch by
// default) and left to the garbage collector.
const (
	minFrameClassShift = 10
	maxFrameClassShift = 24
)

// framePool recycles request frames. Only frames that no one refers to any
// more may be put back (see FrameReuser).
type framePool struct {
	classes [maxFrameClassShift - minFrameClassShift + 1]sync.Pool // of *[]byte
}

func newFramePool() *framePool { return &framePool{} }

// classOf returns the index of the smallest class holding n bytes, or -1
// when n is beyond the largest class.
func classOf(n int) int {
	if n <= 1<<minFrameClassShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxFrameClassShift {
		return -1
	}
	return shift - minFrameClassShift
}

// get returns a frame of length n.
func (p *framePool) get(n int) []byte {
	c := classOf(n)
	if c < 0 {
		return make([]byte, n)
	}
	if v := p.classes[c].Get(); v != nil {
		return (*v.(*[]byte))[:n]
	}
	return make([]byte, n, 1<<(c+minFrameClassShift))
}

// put returns a frame from get to its class.
func (p *framePool) put(b []byte) {
	c := classOf(cap(b))
	if c < 0 || cap(b) != 1<<(c+minFrameClassShift) {
		return // not one of ours
	}
	b = b[:0]
	p.classes[c].Put(&b)
}
