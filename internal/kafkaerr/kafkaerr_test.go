package kafkaerr

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestWithMessage(t *testing.T) {
	wrapped := fmt.Errorf("describe: %w", kerr.GroupIDNotFound)
	for _, tt := range []struct {
		name string
		err  error
		msg  string
		want string // the error's text; "" for nil
	}{
		{"nil error", nil, "ignored", ""},
		{"no message", kerr.GroupIDNotFound, "", kerr.GroupIDNotFound.Error()},
		{"blank message", kerr.GroupIDNotFound, "  \n", kerr.GroupIDNotFound.Error()},
		{"the code's own description", kerr.GroupIDNotFound, " " + kerr.GroupIDNotFound.Description + " ", kerr.GroupIDNotFound.Error()},
		{"not a Kafka error", io.EOF, "broker said", "EOF"},
		{"message added", kerr.GroupIDNotFound, " no group g ", "GROUP_ID_NOT_FOUND: no group g"},
		{"wrapped Kafka error", wrapped, "gone", "GROUP_ID_NOT_FOUND: gone"},
	} {
		got := WithMessage(tt.err, tt.msg)
		if tt.want == "" {
			if got != nil {
				t.Errorf("%s: got %v, want nil", tt.name, got)
			}
			continue
		}
		if got == nil || got.Error() != tt.want {
			t.Errorf("%s: got %v, want %q", tt.name, got, tt.want)
		}
		if errors.Is(tt.err, kerr.GroupIDNotFound) && !errors.Is(got, kerr.GroupIDNotFound) {
			t.Errorf("%s: errors.Is(%v, GROUP_ID_NOT_FOUND) = false", tt.name, got)
		}
	}
}
