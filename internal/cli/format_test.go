package cli

import (
	"bufio"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/strata-io/strata/internal/kafkaerr"
)

var sampleRecord = &kgo.Record{
	Topic:       "t",
	Partition:   3,
	Offset:      42,
	Key:         []byte("k"),
	Value:       []byte("v"),
	Headers:     []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("x=y")}},
	Timestamp:   time.UnixMilli(1700000000123),
	LeaderEpoch: 7,
}

func TestParseFormatRendersRecord(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: `%v\n`, want: "v\n"},
		{give: `%k\t%v\n`, want: "k\tv\n"},
		{give: `%t %p %o %T %e`, want: "t 3 42 1700000000123 7"},
		{give: `[%h]`, want: "[a=1,b=x=y]"},
		{give: `100%% \\ \r\0`, want: "100% \\ \r\x00"},
		{give: ``, want: ""},
		{give: `plain`, want: "plain"},
	}
	for _, tt := range tests {
		f, err := parseFormat(tt.give)
		if err != nil {
			t.Errorf("parseFormat(%q): %v", tt.give, err)
			continue
		}
		if got := string(f.appendRecord(nil, sampleRecord)); got != tt.want {
			t.Errorf("parseFormat(%q).appendRecord: got %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestParseFormatRejectsUnknownDirectives(t *testing.T) {
	for _, give := range []string{`%`, `%x`, `%v%`, `\`, `\q`, `ok\`} {
		if _, err := parseFormat(give); err == nil {
			t.Errorf("parseFormat(%q): no error, want one", give)
		}
	}
}

func TestJSONBytes(t *testing.T) {
	tests := []struct {
		give    []byte
		wantNil bool
		want    string
		wantEnc string
	}{
		{give: nil, wantNil: true},
		{give: []byte{}, want: ""},
		{give: []byte("héllo"), want: "héllo"},
		{give: []byte{0xff, 0xfe}, want: "//4=", wantEnc: encodingBase64},
	}
	for _, tt := range tests {
		got, enc := jsonBytes(tt.give)
		if tt.wantNil {
			if got != nil || enc != "" {
				t.Errorf("jsonBytes(%v): got %v %q, want nil", tt.give, got, enc)
			}
			continue
		}
		if got == nil || *got != tt.want || enc != tt.wantEnc {
			t.Errorf("jsonBytes(%v): got %v %q, want %q %q", tt.give, got, enc, tt.want, tt.wantEnc)
		}
	}
}

func TestSplitOn(t *testing.T) {
	tests := []struct {
		give  string
		delim string
		want  []string
	}{
		{give: "a\nb\n", delim: "\n", want: []string{"a", "b"}},
		{give: "a\nb", delim: "\n", want: []string{"a", "b"}},
		{give: "a\n\nb", delim: "\n", want: []string{"a", "", "b"}},
		{give: "", delim: "\n", want: nil},
		{give: "\n", delim: "\n", want: []string{""}},
		{give: "x--y----z", delim: "--", want: []string{"x", "y", "", "z"}},
		{give: "x-y", delim: "--", want: []string{"x-y"}},
	}
	for _, tt := range tests {
		sc := bufio.NewScanner(strings.NewReader(tt.give))
		sc.Buffer(make([]byte, 0, 2), 1024) // tiny buffer: delimiters split across reads
		sc.Split(splitOn([]byte(tt.delim)))
		var got []string
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		if err := sc.Err(); err != nil {
			t.Errorf("splitOn(%q) on %q: %v", tt.delim, tt.give, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitOn(%q) on %q (-want +got):\n%s", tt.delim, tt.give, diff)
		}
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{give: `\n`, want: "\n"},
		{give: `a\tb`, want: "a\tb"},
		{give: `\\n`, want: `\n`},
		{give: `\x`, want: `\x`},
		{give: `end\`, want: `end\`},
		{give: `|`, want: `|`},
	}
	for _, tt := range tests {
		if got := unescape(tt.give); got != tt.want {
			t.Errorf("unescape(%q): got %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestErrorLine(t *testing.T) {
	tests := []struct {
		give error
		want string
	}{
		{give: topicError("x", kerr.TopicAlreadyExists), want: `strata: topic "x": TOPIC_ALREADY_EXISTS: Topic with this name already exists.`},
		{give: topicError("x", kafkaerr.WithMessage(kerr.InvalidConfig, "retention.ms must be a number")), want: `strata: topic "x": INVALID_CONFIG: retention.ms must be a number`},
		{give: kafkaerr.WithMessage(kerr.InvalidConfig, kerr.InvalidConfig.Description), want: "strata: " + kerr.InvalidConfig.Error()},
		{give: errors.Join(errors.New("one"), errors.New("two")), want: "strata: one; two"},
		{give: joinLine([]error{errors.New("a"), errors.New("b")}), want: "strata: a; b"},
	}
	for _, tt := range tests {
		if got := ErrorLine(tt.give); got != tt.want {
			t.Errorf("ErrorLine(%v): got %q, want %q", tt.give, got, tt.want)
		}
	}
	if err := topicError("x", kafkaerr.WithMessage(kerr.InvalidConfig, "detail")); !errors.Is(err, kerr.InvalidConfig) {
		t.Errorf("errors.Is(%v, kerr.InvalidConfig) = false, want true", err)
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{`%v\n`, `%t %p %o %k %v %h %T %e`, `%%\\`, `%`, `\`, `%z`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pf, err := parseFormat(s)
		if err != nil {
			return
		}
		// Text without % or \ is literal: it renders unchanged.
		if !strings.ContainsAny(s, `%\`) {
			if got := string(pf.appendRecord(nil, sampleRecord)); got != s {
				t.Fatalf("parseFormat(%q) renders %q, want the input unchanged", s, got)
			}
		}
		pf.appendRecord(nil, &kgo.Record{}) // a record with nothing set must render too
	})
}
