package controller

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-io/strata/internal/auth/sasl"
	"github.com/strata-io/strata/internal/metadata"
)

// Errors of AlterUserScramCredentials, as Kafka's ScramControlManager
// reports them.
var (
	ErrDuplicateResource        = errors.New("duplicate resource")
	ErrResourceNotFound         = errors.New("resource not found")
	ErrUnacceptableCredential   = errors.New("unacceptable credential")
	ErrUnsupportedSaslMechanism = errors.New("unsupported SASL mechanism")
)

// ScramMechanismName returns the SASL name of a SCRAM mechanism number
// ("" when unknown).
func ScramMechanismName(m int8) string {
	switch m {
	case metadata.ScramSHA256:
		return sasl.ScramSHA256
	case metadata.ScramSHA512:
		return sasl.ScramSHA512
	}
	return ""
}

// ScramUpsertion sets a user's SCRAM credential from the salted password
// the client computed (AlterUserScramCredentials never carries the
// password).
type ScramUpsertion struct {
	Name           string
	Mechanism      int8
	Iterations     int32
	Salt           []byte
	SaltedPassword []byte
}

// ScramDeletion removes a user's SCRAM credential for one mechanism.
type ScramDeletion struct {
	Name      string
	Mechanism int8
}

// ScramResult is the outcome for one user: all of a user's changes apply
// or none does.
type ScramResult struct {
	User string
	Err  error
}

// AlterUserScramCredentials validates and applies SCRAM credential
// changes as Kafka's controller does, one result per user in order of
// first mention. A user whose changes include an invalid one gets that
// error and none of its changes apply. The returned error is
// request-wide: ErrNotController or a quorum failure.
func (c *Controller) AlterUserScramCredentials(ctx context.Context, deletions []ScramDeletion, upsertions []ScramUpsertion) ([]ScramResult, error) {
	var results []ScramResult
	var opErr error
	if err := c.doAdmin(ctx, func(ctx context.Context) {
		results, opErr = c.alterUserScramCredentials(ctx, deletions, upsertions)
	}); err != nil {
		return nil, err
	}
	return results, opErr
}

func (c *Controller) alterUserScramCredentials(ctx context.Context, deletions []ScramDeletion, upsertions []ScramUpsertion) ([]ScramResult, error) {
	img, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	var order []string
	errs := map[string]error{}
	recs := map[string][]metadata.Record{}
	seen := map[ScramDeletion]int{}
	note := func(user string) {
		if _, ok := errs[user]; !ok {
			if _, ok := recs[user]; !ok {
				order = append(order, user)
				recs[user] = nil
			}
		}
	}
	setErr := func(user string, e error) {
		if errs[user] == nil {
			errs[user] = e
		}
	}
	for _, d := range deletions {
		note(d.Name)
		seen[d]++
	}
	for _, u := range upsertions {
		note(u.Name)
		seen[ScramDeletion{u.Name, u.Mechanism}]++
	}
	for _, d := range deletions {
		switch {
		case d.Name == "":
			setErr(d.Name, fmt.Errorf("%w: Username must not be empty", ErrUnacceptableCredential))
		case ScramMechanismName(d.Mechanism) == "":
			setErr(d.Name, fmt.Errorf("%w: Unknown SCRAM mechanism", ErrUnsupportedSaslMechanism))
		case seen[d] > 1:
			setErr(d.Name, fmt.Errorf("%w: A user credential cannot be altered twice in the same request", ErrDuplicateResource))
		default:
			if _, ok := img.ScramCredential(d.Mechanism, d.Name); !ok {
				setErr(d.Name, fmt.Errorf("%w: Attempt to delete a user credential that does not exist", ErrResourceNotFound))
				continue
			}
			recs[d.Name] = append(recs[d.Name], &metadata.RemoveUserScramCredentialRecord{Name: d.Name, Mechanism: d.Mechanism})
		}
	}
	for _, u := range upsertions {
		mech := ScramMechanismName(u.Mechanism)
		switch {
		case u.Name == "":
			setErr(u.Name, fmt.Errorf("%w: Username must not be empty", ErrUnacceptableCredential))
		case mech == "":
			setErr(u.Name, fmt.Errorf("%w: Unknown SCRAM mechanism", ErrUnsupportedSaslMechanism))
		case seen[ScramDeletion{u.Name, u.Mechanism}] > 1:
			setErr(u.Name, fmt.Errorf("%w: A user credential cannot be altered twice in the same request", ErrDuplicateResource))
		case u.Iterations < sasl.ScramMinIterations:
			setErr(u.Name, fmt.Errorf("%w: Too few iterations", ErrUnacceptableCredential))
		case u.Iterations > sasl.ScramMaxIterations:
			setErr(u.Name, fmt.Errorf("%w: Too many iterations", ErrUnacceptableCredential))
		case len(u.Salt) == 0:
			setErr(u.Name, fmt.Errorf("%w: Salt must not be empty", ErrUnacceptableCredential))
		case len(u.SaltedPassword) == 0:
			setErr(u.Name, fmt.Errorf("%w: Salted password must not be empty", ErrUnacceptableCredential))
		default:
			stored, server, kerr := sasl.ScramKeys(mech, u.SaltedPassword)
			if kerr != nil {
				setErr(u.Name, fmt.Errorf("%w: %v", ErrUnsupportedSaslMechanism, kerr))
				continue
			}
			recs[u.Name] = append(recs[u.Name], &metadata.UserScramCredentialRecord{Name: u.Name, Mechanism: u.Mechanism,
				Salt: u.Salt, StoredKey: stored, ServerKey: server, Iterations: u.Iterations})
		}
	}
	results := make([]ScramResult, len(order))
	var batch []metadata.Record
	var applied []int
	for i, user := range order {
		results[i].User = user
		switch {
		case errs[user] != nil:
			results[i].Err = errs[user]
		default:
			batch = append(batch, recs[user]...)
			applied = append(applied, i)
		}
	}
	if len(batch) == 0 {
		return results, nil
	}
	if err := c.propose(ctx, batch); err != nil {
		for _, i := range applied {
			results[i].Err = err
		}
		return results, nil
	}
	c.logger.Info("SCRAM credentials altered", "users", len(applied))
	return results, nil
}
