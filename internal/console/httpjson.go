package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// apiError is an error answered as {"error": Msg, "code": Code} with
// Status. Code is the Kafka error name when the cluster sent one.
type apiError struct {
	Status int
	Code   string
	Msg    string
}

func (e *apiError) Error() string { return e.Msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Msg: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Msg: fmt.Sprintf(format, args...)}
}

// kafkaStatus maps a Kafka error code to the HTTP status the console
// answers it with; codes not listed are 502 (the cluster failed the
// request for a reason the user cannot fix by changing it).
var kafkaStatus = map[*kerr.Error]int{
	kerr.UnknownTopicOrPartition: http.StatusNotFound,
	kerr.UnknownTopicID:          http.StatusNotFound,
	kerr.GroupIDNotFound:         http.StatusNotFound,

	kerr.TopicAlreadyExists:     http.StatusConflict,
	kerr.NonEmptyGroup:          http.StatusConflict,
	kerr.GroupSubscribedToTopic: http.StatusConflict,
	kerr.UnknownMemberID:        http.StatusConflict,
	kerr.RebalanceInProgress:    http.StatusConflict,
	kerr.IllegalGeneration:      http.StatusConflict,

	kerr.InvalidTopicException:       http.StatusBadRequest,
	kerr.InvalidPartitions:           http.StatusBadRequest,
	kerr.InvalidReplicationFactor:    http.StatusBadRequest,
	kerr.InvalidReplicaAssignment:    http.StatusBadRequest,
	kerr.InvalidConfig:               http.StatusBadRequest,
	kerr.PolicyViolation:             http.StatusBadRequest,
	kerr.InvalidRequest:              http.StatusBadRequest,
	kerr.MessageTooLarge:             http.StatusBadRequest,
	kerr.RecordListTooLarge:          http.StatusBadRequest,
	kerr.InvalidRecord:               http.StatusBadRequest,
	kerr.InvalidTimestamp:            http.StatusBadRequest,
	kerr.InvalidGroupID:              http.StatusBadRequest,
	kerr.InvalidCommitOffsetSize:     http.StatusBadRequest,
	kerr.OffsetMetadataTooLarge:      http.StatusBadRequest,
	kerr.OffsetOutOfRange:            http.StatusBadRequest,
	kerr.TopicDeletionDisabled:       http.StatusBadRequest,
	kerr.UnsupportedVersion:          http.StatusNotImplemented,
	kerr.UnsupportedForMessageFormat: http.StatusBadRequest,

	kerr.TopicAuthorizationFailed:           http.StatusForbidden,
	kerr.GroupAuthorizationFailed:           http.StatusForbidden,
	kerr.ClusterAuthorizationFailed:         http.StatusForbidden,
	kerr.TransactionalIDAuthorizationFailed: http.StatusForbidden,
	kerr.DelegationTokenAuthorizationFailed: http.StatusForbidden,

	kerr.ThrottlingQuotaExceeded: http.StatusTooManyRequests,

	kerr.RequestTimedOut:              http.StatusGatewayTimeout,
	kerr.NotController:                http.StatusServiceUnavailable,
	kerr.LeaderNotAvailable:           http.StatusServiceUnavailable,
	kerr.NotLeaderForPartition:        http.StatusServiceUnavailable,
	kerr.CoordinatorNotAvailable:      http.StatusServiceUnavailable,
	kerr.CoordinatorLoadInProgress:    http.StatusServiceUnavailable,
	kerr.NotCoordinator:               http.StatusServiceUnavailable,
	kerr.BrokerNotAvailable:           http.StatusServiceUnavailable,
	kerr.NotEnoughReplicas:            http.StatusServiceUnavailable,
	kerr.NotEnoughReplicasAfterAppend: http.StatusServiceUnavailable,
}

// classify turns a handler's error into the answer: its own apiErrors as
// they are, Kafka codes by kafkaStatus, the request's deadline as 504 and
// anything else (a broker that cannot be reached) as 502.
func classify(ctx context.Context, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		status, ok := kafkaStatus[ke]
		if !ok {
			status = http.StatusBadGateway
		}
		return &apiError{Status: status, Code: ke.Message, Msg: err.Error()}
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return &apiError{Status: http.StatusGatewayTimeout, Msg: "no answer from the cluster in time: " + err.Error()}
	}
	return &apiError{Status: http.StatusBadGateway, Msg: "cluster request failed: " + err.Error()}
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(map[string]string{"error": "encode response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// writeError answers err as {"error": ..., "code": ...}.
func writeError(w http.ResponseWriter, err *apiError) {
	body := map[string]string{"error": err.Msg}
	if err.Code != "" {
		body["code"] = err.Code
	}
	writeJSON(w, err.Status, body)
}

// decodeBody reads the request's JSON body into v: at most MaxBodyBytes
// (413), arriving within the body read timeout (408), one JSON value with
// no unknown fields (400).
func (r *request) decodeBody(v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Msg: "the request body must be JSON (Content-Type: application/json)"}
	}
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	rc := http.NewResponseController(r.w)
	deadline := rc.SetReadDeadline(time.Now().Add(r.c.cfg.BodyReadTimeout)) == nil
	body, err := io.ReadAll(http.MaxBytesReader(r.w, r.Body, MaxBodyBytes))
	if err != nil {
		// NB: keep the read deadline: net/http tries to drain an unread
		// body before it writes the answer, which would wait forever on
		// a client that stopped sending.
		r.w.Header().Set("Connection", "close")
	} else if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return &apiError{Status: http.StatusRequestTimeout, Msg: fmt.Sprintf("the request body did not arrive within %s", r.c.cfg.BodyReadTimeout)}
	case err != nil:
		return badRequest("read request body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("malformed JSON body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON body: more than one JSON value")
	}
	return nil
}

func tooLarge() *apiError {
	return &apiError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf("the request body is larger than %d bytes", MaxBodyBytes)}
}

// derefString is *s, or "" for nil.
func derefString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
