package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

// compressionInputs are payloads of several sizes and entropies.
func compressionInputs() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 300<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"empty":  {},
		"byte":   {'x'},
		"text":   bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog. "), 2000),
		"random": random,
		"zeros":  make([]byte, 1<<20),
	}
}

func TestCompressRoundTrip(t *testing.T) {
	for _, codec := range allCodecs {
		for name, src := range compressionInputs() {
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				prefix := []byte("keep")
				comp, err := Compress(codec, bytes.Clone(prefix), src)
				if err != nil {
					t.Fatalf("Compress(%s, %d bytes): %v", codec, len(src), err)
				}
				if !bytes.HasPrefix(comp, prefix) {
					t.Fatalf("Compress(%s) did not append to dst: starts %q", codec, comp[:min(len(comp), 4)])
				}
				got, err := Decompress(codec, comp[len(prefix):], len(src))
				if err != nil {
					t.Fatalf("Decompress(%s, Compress(%d bytes)): %v", codec, len(src), err)
				}
				if !bytes.Equal(got, src) {
					t.Fatalf("Decompress(%s, Compress(%d bytes)) gave %d different bytes", codec, len(src), len(got))
				}
				if len(src) > 0 {
					if _, err := Decompress(codec, comp[len(prefix):], len(src)-1); !errors.Is(err, ErrTooLarge) {
						t.Errorf("Decompress(%s, %d bytes, limit %d) = %v, want ErrTooLarge", codec, len(src), len(src)-1, err)
					}
				}
			})
		}
	}
}

func TestDecompressReadsKgoOutput(t *testing.T) {
	for _, codec := range allCodecs[1:] {
		for name, src := range compressionInputs() {
			if len(src) == 0 {
				continue // kgo never compresses an empty batch
			}
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				comp, err := kgo.DefaultCompressor(kgoCodec(t, codec))
				if err != nil {
					t.Fatalf("kgo.DefaultCompressor: %v", err)
				}
				enc, _ := comp.Compress(new(bytes.Buffer), src)
				got, err := Decompress(codec, enc, len(src))
				if err != nil {
					t.Fatalf("Decompress(%s, kgo output): %v", codec, err)
				}
				if !bytes.Equal(got, src) {
					t.Fatalf("Decompress(%s, kgo output) gave %d different bytes, want %d", codec, len(got), len(src))
				}
			})
		}
	}
}

func TestKgoReadsCompressOutput(t *testing.T) {
	dec := kgo.DefaultDecompressor()
	for _, codec := range allCodecs[1:] {
		for name, src := range compressionInputs() {
			if len(src) == 0 {
				continue
			}
			t.Run(codec.String()+"/"+name, func(t *testing.T) {
				enc, err := Compress(codec, nil, src)
				if err != nil {
					t.Fatalf("Compress(%s): %v", codec, err)
				}
				got, err := dec.Decompress(enc, kgo.CompressionCodecType(codec))
				if err != nil {
					t.Fatalf("kgo Decompress(%s, our output): %v", codec, err)
				}
				if !bytes.Equal(got, src) {
					t.Fatalf("kgo Decompress(%s, our output) gave %d different bytes, want %d", codec, len(got), len(src))
				}
			})
		}
	}
}

// xerialFrame frames src as snappy-java's SnappyOutputStream does: the
// header, then [int32 length][raw snappy block] per chunk of chunkSize.
func xerialFrame(src []byte, chunkSize int) []byte {
	out := []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}
	for len(src) > 0 {
		n := min(chunkSize, len(src))
		block := snappy.Encode(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		src = src[n:]
	}
	return out
}

func TestDecompressXerialSnappy(t *testing.T) {
	text := compressionInputs()["text"]
	one := xerialFrame(text, 32<<10)
	tests := []struct {
		name string
		give []byte
		want []byte
	}{
		{name: "many chunks", give: one, want: text},
		{name: "one chunk", give: xerialFrame(text, len(text)), want: text},
		{name: "header only", give: xerialFrame(nil, 1), want: []byte{}},
		{name: "concatenated streams", give: append(bytes.Clone(one), xerialFrame([]byte("more"), 2)...), want: append(bytes.Clone(text), "more"...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decompress(CodecSnappy, tt.give, len(tt.want))
			if err != nil {
				t.Fatalf("Decompress(snappy, xerial %s): %v", tt.name, err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("Decompress(snappy, xerial %s) = %d bytes, want %d", tt.name, len(got), len(tt.want))
			}
			// kgo reads the same framing.
			if kg, err := kgo.DefaultDecompressor().Decompress(tt.give, kgo.CodecSnappy); err == nil && !bytes.Equal(kg, tt.want) {
				t.Errorf("kgo disagrees about xerial %s", tt.name)
			}
		})
	}

	be := binary.BigEndian
	bad := []struct {
		name string
		give []byte
		want error
	}{
		{name: "truncated header", give: one[:12], want: ErrCorrupt},
		{name: "truncated chunk length", give: append(xerialFrame(nil, 1), 0, 0), want: ErrCorrupt},
		{name: "chunk past end", give: one[:len(one)-1], want: ErrCorrupt},
		{name: "negative chunk length", give: be.AppendUint32(xerialFrame(nil, 1), 0xffffffff), want: ErrCorrupt},
		{name: "corrupt chunk", give: append(be.AppendUint32(xerialFrame(nil, 1), 3), 0x05, 0xff, 0xff), want: ErrCorrupt},
		{name: "past the limit", give: one, want: ErrTooLarge},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			limit := len(text)
			if tt.want == ErrTooLarge {
				limit = len(text) - 1
			}
			if _, err := Decompress(CodecSnappy, tt.give, limit); !errors.Is(err, tt.want) {
				t.Fatalf("Decompress(snappy, xerial %s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

// bombs returns, per codec, a small input that inflates to size bytes.
func bombs(t *testing.T, size int) map[string][]byte {
	t.Helper()
	zeros := make([]byte, size)
	out := map[string][]byte{}

	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(zeros)
	zw.Close()
	out["gzip"] = gz.Bytes()

	var lz bytes.Buffer
	lw := lz4.NewWriter(&lz)
	lw.Write(zeros)
	lw.Close()
	out["lz4"] = lz.Bytes()

	enc, _ := zstd.NewWriter(nil)
	out["zstd with content size"] = enc.EncodeAll(zeros, nil)

	// The streaming encoder does not know the size up front, like the Java
	// client's ZstdOutputStream.
	var zs bytes.Buffer
	sw, _ := zstd.NewWriter(&zs, zstd.WithEncoderConcurrency(1))
	sw.Write(zeros)
	sw.Close()
	var fh zstd.Header
	if err := fh.Decode(zs.Bytes()); err != nil || fh.HasFCS {
		t.Fatalf("streamed zstd frame header %+v, %v: want no content size", fh, err)
	}
	out["zstd streamed"] = zs.Bytes()

	out["snappy"] = snappy.Encode(nil, zeros)
	out["snappy xerial"] = xerialFrame(zeros, 32<<10)
	return out
}

func TestDecompressStopsAtLimit(t *testing.T) {
	const bombSize = 64 << 20
	const limit = 1 << 20
	codecs := map[string]Codec{
		"gzip": CodecGzip, "lz4": CodecLZ4, "zstd with content size": CodecZstd,
		"zstd streamed": CodecZstd, "snappy": CodecSnappy, "snappy xerial": CodecSnappy,
	}
	for name, src := range bombs(t, bombSize) {
		t.Run(name, func(t *testing.T) {
			codec := codecs[name]
			// Warm up pools and shared coders so only the call itself is measured.
			if _, err := Decompress(codec, src, bombSize); err != nil {
				t.Fatalf("Decompress(%s, %d-byte bomb, limit %d): %v", name, len(src), bombSize, err)
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out, err := Decompress(codec, src, limit)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decompress(%s, %d-byte bomb, limit %d) = %d bytes, %v; want ErrTooLarge", name, len(src), limit, len(out), err)
			}
			// lz4 takes two 4 MiB block buffers from its pool, which the race
			// detector empties at random; anything near the bomb's 64 MiB
			// means the limit did not hold.
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("limit %d: allocated %d bytes", limit, alloc)
			if alloc > 16*limit {
				t.Errorf("Decompress(%s, %d-byte bomb, limit %d) allocated %d bytes, want at most %d", name, len(src), limit, alloc, 16*limit)
			}
		})
	}
}

// Frames streamed without a declared size take the guess-and-retry path.
func TestDecompressZstdWithoutContentSize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	words := []string{"alpha ", "beta ", "gamma ", "delta ", "epsilon "}
	for _, size := range []int{1, 1000, 100 << 10, 1 << 20, 3 << 20} {
		var text []byte
		for len(text) < size {
			text = append(text, words[rng.IntN(len(words))]...)
		}
		text = text[:size]
		var zs bytes.Buffer
		sw, _ := zstd.NewWriter(&zs, zstd.WithEncoderConcurrency(1))
		sw.Write(text)
		sw.Close()
		src := zs.Bytes()

		got, err := Decompress(CodecZstd, src, size)
		if err != nil || !bytes.Equal(got, text) {
			t.Errorf("Decompress(zstd stream of %d bytes, limit %d) = %d bytes, %v; want the input", size, size, len(got), err)
		}
		if _, err := Decompress(CodecZstd, src, size-1); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Decompress(zstd stream of %d bytes, limit %d) = %v, want ErrTooLarge", size, size-1, err)
		}
		damaged := bytes.Clone(src)
		damaged[len(damaged)/2] ^= 0x55
		if out, err := Decompress(CodecZstd, damaged, 2*size); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decompress(damaged zstd stream of %d bytes) = %d bytes, %v; want ErrCorrupt", size, len(out), err)
		}
	}
}

func TestDecompressZstdConcatenatedFrames(t *testing.T) {
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true))
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("frame two "), 10_000)
	// The first frame declares a content size of 0, the second a size far
	// beyond the first guess.
	src := enc.EncodeAll(nil, nil)
	src = enc.EncodeAll(big, src)
	src = enc.EncodeAll([]byte("three"), src)
	want := append(bytes.Clone(big), "three"...)
	got, err := Decompress(CodecZstd, src, len(want))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Decompress(zstd frames of 0, %d and 5 bytes) = %d bytes, %v; want %d bytes", len(big), len(got), err, len(want))
	}
	if _, err := Decompress(CodecZstd, src, len(want)-1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decompress(zstd frames of %d bytes, limit %d) = %v, want ErrTooLarge", len(want), len(want)-1, err)
	}
}

func TestDecompressSnappyRefusesImpossibleLength(t *testing.T) {
	// A raw block that declares 1 MiB but holds three bytes: refused before
	// allocating, even though the limit would allow it.
	src := binary.AppendUvarint(nil, 1<<20)
	src = append(src, 0x00, 'x')
	if _, err := Decompress(CodecSnappy, src, 1<<30); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Decompress(snappy, block declaring 1 MiB in %d bytes) = %v, want ErrCorrupt", len(src), err)
	}
}

func TestDecompressCorruptInput(t *testing.T) {
	text := compressionInputs()["text"]
	for _, codec := range allCodecs[1:] {
		valid, err := Compress(codec, nil, text)
		if err != nil {
			t.Fatalf("Compress(%s): %v", codec, err)
		}
		tests := []struct {
			name string
			give []byte
		}{
			{name: "empty", give: nil},
			{name: "garbage", give: []byte("this is not compressed at all, not even a little")},
			{name: "truncated", give: valid[:len(valid)/2]},
			{name: "last byte missing", give: valid[:len(valid)-1]},
		}
		if codec != CodecSnappy { // raw snappy has no checksum
			flipped := bytes.Clone(valid)
			flipped[len(flipped)-6] ^= 0x40
			tests = append(tests, struct {
				name string
				give []byte
			}{name: "flipped bit", give: flipped})
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s", codec, tt.name), func(t *testing.T) {
				out, err := Decompress(codec, tt.give, 1<<20)
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Decompress(%s, %s) = %d bytes, %v; want ErrCorrupt", codec, tt.name, len(out), err)
				}
			})
		}
	}
}

func TestDecompressEveryTruncationFails(t *testing.T) {
	src := compressionInputs()["text"][:3000]
	for _, codec := range allCodecs[1:] {
		valid, err := Compress(codec, nil, src)
		if err != nil {
			t.Fatalf("Compress(%s): %v", codec, err)
		}
		for n := range len(valid) {
			out, err := Decompress(codec, valid[:n], 1<<20)
			if err == nil && bytes.Equal(out, src) {
				t.Fatalf("Decompress(%s, first %d of %d bytes) returned the whole input", codec, n, len(valid))
			}
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Decompress(%s, first %d of %d bytes) = %v, want ErrCorrupt", codec, n, len(valid), err)
			}
		}
	}
}

func TestCodecErrors(t *testing.T) {
	if _, err := Decompress(Codec(5), []byte("x"), 10); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Decompress(codec 5) = %v, want ErrUnsupported", err)
	}
	if _, err := Compress(Codec(7), nil, []byte("x")); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Compress(codec 7) = %v, want ErrUnsupported", err)
	}
	src := []byte("plain")
	got, err := Decompress(CodecNone, src, 5)
	if err != nil || &got[0] != &src[0] {
		t.Errorf("Decompress(none, 5 bytes, 5) = %q, %v; want src itself", got, err)
	}
	if _, err := Decompress(CodecNone, src, 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decompress(none, 5 bytes, 4) = %v, want ErrTooLarge", err)
	}
}

func TestCodecsConcurrentUse(t *testing.T) {
	inputs := compressionInputs()
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(allCodecs))
	for g := range 4 {
		for _, codec := range allCodecs {
			wg.Go(func() {
				for name, src := range inputs {
					src = src[:len(src)/(g+1)]
					enc, err := Compress(codec, nil, src)
					if err != nil {
						errs <- fmt.Errorf("Compress(%s, %s): %w", codec, name, err)
						return
					}
					got, err := Decompress(codec, enc, len(src))
					if err != nil || !bytes.Equal(got, src) {
						errs <- fmt.Errorf("Decompress(%s, %s) round trip: equal=%t, %v", codec, name, bytes.Equal(got, src), err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCodecsStartNoGoroutines(t *testing.T) {
	for _, codec := range allCodecs {
		enc, err := Compress(codec, nil, []byte("hello hello hello"))
		if err != nil {
			t.Fatalf("Compress(%s): %v", codec, err)
		}
		if _, err := Decompress(codec, enc, 100); err != nil {
			t.Fatalf("Decompress(%s): %v", codec, err)
		}
	}
	goleak.VerifyNone(t)
}
