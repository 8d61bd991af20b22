package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// ErrTooLarge is returned when decompressed data would exceed the caller's
// bound. It is kept apart from ErrCorrupt so that the API layer can tell a
// decompression bomb (or simply an oversized batch) from damaged bytes.
var ErrTooLarge = errors.New("decompressed record batch too large")

// Expansion limits of the block formats, used to refuse a declared output
// size that no valid input of that length could produce, before allocating.
const (
	// A standard snappy copy element of 3 bytes yields at most 64 bytes.
	snappyMaxRatio = 22
	// Deflate cannot do better than about 1032:1.
	deflateMaxRatio = 1032
)

// minReadBuffer is the smallest output buffer the streaming decoders start with.
const minReadBuffer = 4 << 10

// Decompress returns src decompressed with codec c. The result never exceeds
// maxSize bytes: if the data would inflate past it, decoding stops and the
// error wraps ErrTooLarge; memory allocated for the output stays within
// about twice maxSize (and within a constant factor of len(src) for codecs
// whose expansion is bounded). Damaged input gives an error wrapping
// ErrCorrupt, an unknown codec one wrapping ErrUnsupported.
//
// For CodecNone the result is src itself. Otherwise it is newly allocated and
// owned by the caller. Snappy input may be a raw block or the xerial framing
// the Java client writes; LZ4 input is the LZ4 frame format.
func Decompress(c Codec, src []byte, maxSize int) ([]byte, error) {
	maxSize = max(maxSize, 0)
	switch c {
	case CodecNone:
		if len(src) > maxSize {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), maxSize)
		}
		return src, nil
	case CodecGzip:
		return decompressGzip(src, maxSize)
	case CodecSnappy:
		if bytes.HasPrefix(src, xerialMagic) {
			return decompressXerial(src, maxSize)
		}
		return decompressSnappyBlocks(src, maxSize)
	case CodecLZ4:
		return decompressLZ4(src, maxSize)
	case CodecZstd:
		return decompressZstd(src, maxSize)
	}
	return nil, fmt.Errorf("%w: compression %s", ErrUnsupported, c)
}

// Compress appends src compressed with codec c to dst. Snappy output is a
// raw block, which Kafka brokers and clients accept for v2 batches; LZ4
// output is an LZ4 frame with independent 64 KiB blocks, as the Java client
// writes.
func Compress(c Codec, dst, src []byte) ([]byte, error) {
	switch c {
	case CodecNone:
		return append(dst, src...), nil
	case CodecGzip:
		return compressGzip(dst, src)
	case CodecSnappy:
		n := snappy.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, fmt.Errorf("snappy: %d bytes is too large to compress", len(src))
		}
		start := len(dst)
		dst = grow(dst, n)
		// Encode writes from the start of the slice it is given.
		enc := snappy.Encode(dst[start:start+n], src)
		return dst[:start+len(enc)], nil
	case CodecLZ4:
		return compressLZ4(dst, src)
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, err
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: compression %s", ErrUnsupported, c)
}

// grow returns b with room for n more bytes beyond len(b).
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// readBounded reads r to EOF into a buffer that starts at sizeHint bytes and
// doubles, never holding more than maxSize bytes. If r has more than maxSize
// bytes it stops and returns ErrTooLarge.
func readBounded(r io.Reader, sizeHint, maxSize int) ([]byte, error) {
	size := min(max(sizeHint, minReadBuffer), maxSize)
	buf := make([]byte, 0, size)
	zeroReads := 0
	for {
		if len(buf) == cap(buf) {
			if len(buf) == maxSize {
				return buf, probeEOF(r, maxSize)
			}
			nb := make([]byte, len(buf), min(2*cap(buf), maxSize))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case err == io.EOF:
			return buf, nil
		case err != nil:
			return nil, err
		case n == 0:
			if zeroReads++; zeroReads > 100 {
				return nil, io.ErrNoProgress
			}
		default:
			zeroReads = 0
		}
	}
}

// probeEOF checks that r, which already produced maxSize bytes, has no more.
func probeEOF(r io.Reader, maxSize int) error {
	var one [1]byte
	for range 100 {
		n, err := r.Read(one[:])
		if n > 0 {
			return fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxSize)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}

// corrupt wraps a codec library error so that it matches ErrCorrupt.
func corrupt(c Codec, err error) error {
	if errors.Is(err, ErrTooLarge) {
		return fmt.Errorf("%s: %w", c, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: truncated input", ErrCorrupt, c)
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, c, err)
}

// gzip

type gzipDecoder struct {
	zr  gzip.Reader
	src bytes.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

type gzipEncoder struct {
	zw  *gzip.Writer
	dst appendWriter
}

var gzipEncoders = sync.Pool{New: func() any {
	e := new(gzipEncoder)
	e.zw, _ = gzip.NewWriterLevel(&e.dst, gzip.DefaultCompression) // the level is valid
	return e
}}

func decompressGzip(src []byte, maxSize int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.src.Reset(nil) // do not pin src from the pool
		gzipDecoders.Put(d)
	}()
	d.src.Reset(src)
	if err := d.zr.Reset(&d.src); err != nil {
		return nil, corrupt(CodecGzip, err)
	}
	// The trailer holds the size of the last member modulo 2^32: a good
	// first guess, but only a guess, so it is capped by what the input
	// could possibly expand to.
	hint := 0
	if len(src) >= 4 {
		hint = int(binary.LittleEndian.Uint32(src[len(src)-4:]))
		hint = min(hint, len(src)*deflateMaxRatio)
	}
	out, err := readBounded(&d.zr, hint, maxSize)
	if err != nil {
		return nil, corrupt(CodecGzip, err)
	}
	return out, nil
}

func compressGzip(dst, src []byte) ([]byte, error) {
	e := gzipEncoders.Get().(*gzipEncoder)
	defer func() {
		e.dst.b = nil
		gzipEncoders.Put(e)
	}()
	e.dst.b = dst
	e.zw.Reset(&e.dst)
	if _, err := e.zw.Write(src); err != nil {
		return dst, fmt.Errorf("gzip: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return dst, fmt.Errorf("gzip: %w", err)
	}
	return e.dst.b, nil
}

// snappy

// xerialMagic starts the framing of snappy-java's SnappyOutputStream, which
// the Java client uses. It is followed by two big-endian int32s (version and
// minimum compatible version), then repeated [int32 length][raw snappy block].
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// snappyDecodedLen returns the decoded length a raw snappy block declares,
// refusing lengths past budget or beyond what the block could expand to.
func snappyDecodedLen(block []byte, budget int) (int, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return 0, corrupt(CodecSnappy, err)
	}
	if n > budget {
		return 0, fmt.Errorf("%s: %w: block declares %d bytes, %d left of the limit", CodecSnappy, ErrTooLarge, n, budget)
	}
	if n > len(block)*snappyMaxRatio {
		return 0, fmt.Errorf("%w: snappy block of %d bytes declares %d decoded bytes", ErrCorrupt, len(block), n)
	}
	return n, nil
}

func decompressSnappyBlocks(src []byte, maxSize int) ([]byte, error) {
	n, err := snappyDecodedLen(src, maxSize)
	if err != nil {
		return nil, err
	}
	out, err := snappy.Decode(make([]byte, n), src)
	if err != nil {
		return nil, corrupt(CodecSnappy, err)
	}
	return out, nil
}

// decompressXerial walks the chunk framing once to size the output, then
// decodes every chunk into place. NB: snappy-java accepts concatenated
// streams, so a fresh stream header may appear where a chunk length is
// expected; it is skipped.
func decompressXerial(src []byte, maxSize int) ([]byte, error) {
	total := 0
	err := walkXerial(src, func(block []byte) error {
		n, err := snappyDecodedLen(block, maxSize-total)
		total += n
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]byte, total)
	at := 0
	err = walkXerial(src, func(block []byte) error {
		n, _ := snappy.DecodedLen(block) // checked in the first walk
		// The capacity of exactly n makes Decode write in place.
		dec, err := snappy.Decode(out[at:at+n:at+n], block)
		if err != nil {
			return corrupt(CodecSnappy, err)
		}
		if len(dec) != n {
			return fmt.Errorf("%w: snappy block decoded to %d bytes, declared %d", ErrCorrupt, len(dec), n)
		}
		at += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// walkXerial calls fn with each raw snappy block of xerial-framed src.
func walkXerial(src []byte, fn func(block []byte) error) error {
	for len(src) > 0 {
		if bytes.HasPrefix(src, xerialMagic) {
			if len(src) < xerialHeaderSize {
				return fmt.Errorf("%w: snappy: truncated xerial header", ErrCorrupt)
			}
			src = src[xerialHeaderSize:]
			continue
		}
		if len(src) < 4 {
			return fmt.Errorf("%w: snappy: %d stray bytes after xerial chunks", ErrCorrupt, len(src))
		}
		n := int64(int32(binary.BigEndian.Uint32(src)))
		src = src[4:]
		if n < 0 || n > int64(len(src)) {
			return fmt.Errorf("%w: snappy: xerial chunk of %d bytes with %d left", ErrCorrupt, n, len(src))
		}
		if err := fn(src[:n]); err != nil {
			return err
		}
		src = src[n:]
	}
	return nil
}

// lz4

type lz4Decoder struct {
	zr  *lz4.Reader
	src bytes.Reader
}

var lz4Decoders = sync.Pool{New: func() any {
	d := new(lz4Decoder)
	d.zr = lz4.NewReader(nil)
	return d
}}

type lz4Encoder struct {
	zw  *lz4.Writer
	err error // from applying lz4Options; options survive Reset
	dst appendWriter
}

var lz4Encoders = sync.Pool{New: func() any {
	e := new(lz4Encoder)
	e.zw = lz4.NewWriter(nil)
	e.err = e.zw.Apply(lz4Options...)
	return e
}}

// lz4Options match the Java client's KafkaLZ4BlockOutputStream: 64 KiB
// independent blocks and a content checksum. NB: the Java reader cannot
// decode dependent blocks; pierrec/lz4 always writes independent ones.
var lz4Options = []lz4.Option{
	lz4.BlockSizeOption(lz4.Block64Kb),
	lz4.ChecksumOption(true),
	lz4.ConcurrencyOption(1),
}

func decompressLZ4(src []byte, maxSize int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.src.Reset(nil)
		d.zr.Reset(nil) // returns its block buffer to lz4's pool
		lz4Decoders.Put(d)
	}()
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: lz4: empty input", ErrCorrupt)
	}
	d.src.Reset(src)
	d.zr.Reset(&d.src)
	out, err := readBounded(d.zr, 4*len(src), maxSize)
	if err != nil {
		return nil, corrupt(CodecLZ4, err)
	}
	return out, nil
}

func compressLZ4(dst, src []byte) ([]byte, error) {
	e := lz4Encoders.Get().(*lz4Encoder)
	defer func() {
		e.dst.b = nil
		e.zw.Reset(nil)
		lz4Encoders.Put(e)
	}()
	if e.err != nil {
		return dst, fmt.Errorf("lz4: %w", e.err)
	}
	e.dst.b = dst
	e.zw.Reset(&e.dst)
	if _, err := e.zw.Write(src); err != nil {
		return dst, fmt.Errorf("lz4: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return dst, fmt.Errorf("lz4: %w", err)
	}
	return e.dst.b, nil
}

// zstd
//
// One Decoder and one Encoder serve the whole process: their DecodeAll and
// EncodeAll are safe for concurrent use and keep a bounded set of internal
// block coders (GOMAXPROCS of them), so nothing large is built per call.
// Neither starts goroutines for these calls.

// zstdMaxMemory caps any single DecodeAll regardless of the caller's limit.
const zstdMaxMemory = 1 << 31

var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(zstdMaxMemory),
		// Decode at most cap(dst)-len(dst) bytes: this is what bounds the
		// output per call, since the memory limit above is shared.
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	return d, nil
})

var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	e, err := zstd.NewWriter(nil,
		zstd.WithEncoderConcurrency(0),
		// An empty input still makes a frame, which every reader accepts.
		zstd.WithZeroFrames(true),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd encoder: %w", err)
	}
	return e, nil
})

// zstdMaxBlockSize is the most one zstd block decodes to.
const zstdMaxBlockSize = 128 << 10

// zstdFirstGuess is the expansion assumed when a frame does not declare its
// size (the Java client streams, so its frames never do).
const zstdFirstGuess = 8

// decompressZstd decodes into a buffer sized from the frame's declared
// content size when there is one, else from a guess, and retries with four
// times the room while the output outgrows it, up to maxSize. Retries cost
// at most a third more decoding work than the final pass, and a bomb is
// refused once maxSize is passed, without going further.
//
// NB: with WithDecodeAllCapLimit, a block that does not fit in the remaining
// capacity fails with an unexported "output bigger than max block size"
// error rather than ErrDecoderSizeExceeded. A failure is therefore taken
// for lack of room whenever less than a block of room was left; the last
// attempt gets a block of slack beyond maxSize, so that running out of room
// there means the output passed maxSize.
func decompressZstd(src []byte, maxSize int) ([]byte, error) {
	if len(src) == 0 {
		return nil, fmt.Errorf("%w: zstd: empty input", ErrCorrupt)
	}
	dec, err := zstdDecoder()
	if err != nil {
		return nil, err
	}
	budget := max(zstdFirstGuess*len(src), minReadBuffer)
	var fh zstd.Header
	if err := fh.Decode(src); err == nil && fh.HasFCS {
		if fh.FrameContentSize > uint64(maxSize) {
			return nil, fmt.Errorf("%s: %w: frame declares %d bytes, limit %d", CodecZstd, ErrTooLarge, fh.FrameContentSize, maxSize)
		}
		budget = int(fh.FrameContentSize)
	}
	budget = min(budget, maxSize)
	tooLarge := func() error { return fmt.Errorf("%s: %w: more than %d bytes", CodecZstd, ErrTooLarge, maxSize) }
	for {
		last := budget >= maxSize
		room := budget
		if last {
			room = maxSize + zstdMaxBlockSize
		}
		out, err := dec.DecodeAll(src, make([]byte, 0, room))
		if err == nil {
			if len(out) > maxSize {
				return nil, tooLarge()
			}
			return out, nil
		}
		outgrown := errors.Is(err, zstd.ErrDecoderSizeExceeded)
		if last {
			if outgrown || len(out) > maxSize {
				return nil, tooLarge()
			}
			return nil, corrupt(CodecZstd, err)
		}
		if !outgrown && room-len(out) >= zstdMaxBlockSize {
			return nil, corrupt(CodecZstd, err)
		}
		// NB: a frame may declare a content size of 0; growing from 0 by
		// multiplying alone would loop forever.
		budget = min(max(4*budget, minReadBuffer), maxSize)
	}
}
