package coordinator

import "unicode/utf16"

// PartitionFor returns the partition of key in an internal topic of n
// partitions, as Kafka computes it for __consumer_offsets and
// __transaction_state: abs(Java String.hashCode(key)) % n, the hash taken
// over UTF-16 code units and abs(MinInt32) being 0. NB: invalid UTF-8
// counts as U+FFFD, as Java decodes it. n <= 0 gives 0.
func PartitionFor(key string, n int32) int32 {
	if n <= 0 {
		return 0
	}
	h := javaStringHashCode(key)
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

// javaStringHashCode is java.lang.String.hashCode: s[0]*31^(n-1) + ... +
// s[n-1] over UTF-16 code units, in int32 arithmetic.
func javaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			h = 31*h + int32(r1)
			h = 31*h + int32(r2)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}
