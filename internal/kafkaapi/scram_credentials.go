package kafkaapi

// DescribeUserScramCredentials v0 and AlterUserScramCredentials v0
// (KIP-554): SCRAM credentials in the metadata log
// (UserScramCredentialRecord).
//
// DescribeUserScramCredentials is served by any broker from its metadata
// image, as Kafka's KRaft brokers serve it from their metadata cache:
// null or no users describes every user with a credential; a named user
// without one gets RESOURCE_NOT_FOUND, a user named twice
// DUPLICATE_RESOURCE. Only mechanisms and iteration counts are described,
// never salts or keys.
//
// AlterUserScramCredentials is served by the active controller (forwarded
// from any other node) and answered once the live brokers applied it, so
// the new credential already works on every broker. Per user: an unknown
// mechanism is UNSUPPORTED_SASL_MECHANISM, fewer than 4096 or more than
// 16384 iterations or an empty name, salt or salted password
// UNACCEPTABLE_CREDENTIAL, the same user and mechanism twice
// DUPLICATE_RESOURCE, deleting a missing credential RESOURCE_NOT_FOUND;
// a user's changes apply all together or not at all.
// Deliberate difference: there is no authorizer yet (Kafka needs DESCRIBE
// and ALTER on the cluster).

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/controller"
	"github.com/strata-io/strata/internal/server"
)

func (h *Handler) describeUserScramCredentials(rc *reqCtx, req *kmsg.DescribeUserSCRAMCredentialsRequest) server.Response {
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	users := h.ctrl.Image().ScramUsers()
	result := func(user string, mechs []int8) kmsg.DescribeUserSCRAMCredentialsResponseResult {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = user
		img := h.ctrl.Image()
		for _, m := range mechs {
			if c, ok := img.ScramCredential(m, user); ok {
				ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				ci.Mechanism, ci.Iterations = m, c.Iterations
				r.CredentialInfos = append(r.CredentialInfos, ci)
			}
		}
		return r
	}
	if len(req.Users) == 0 {
		names := make([]string, 0, len(users))
		for u := range users {
			names = append(names, u)
		}
		slices.Sort(names)
		for _, u := range names {
			resp.Results = append(resp.Results, result(u, users[u]))
		}
		return done(resp)
	}
	counts := map[string]int{}
	for _, u := range req.Users {
		counts[u.Name]++
	}
	for _, u := range req.Users {
		if counts[u.Name] == 0 {
			continue // a duplicate, answered once
		}
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u.Name
		switch mechs, ok := users[u.Name]; {
		case counts[u.Name] > 1:
			r.ErrorCode = kerr.DuplicateResource.Code
			msg := "Cannot describe SCRAM credentials for the same user twice in a single request: " + u.Name
			r.ErrorMessage = &msg
		case !ok:
			r.ErrorCode = kerr.ResourceNotFound.Code
			msg := "Attempt to describe a user credential that does not exist: " + u.Name
			r.ErrorMessage = &msg
		default:
			r = result(u.Name, mechs)
		}
		counts[u.Name] = 0
		resp.Results = append(resp.Results, r)
	}
	return done(resp)
}

func (h *Handler) alterUserScramCredentials(rc *reqCtx, req *kmsg.AlterUserSCRAMCredentialsRequest) server.Response {
	return later(rc, func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
		var dels []controller.ScramDeletion
		var ups []controller.ScramUpsertion
		for _, d := range req.Deletions {
			dels = append(dels, controller.ScramDeletion{Name: d.Name, Mechanism: d.Mechanism})
		}
		for _, u := range req.Upsertions {
			ups = append(ups, controller.ScramUpsertion{Name: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations,
				Salt: u.Salt, SaltedPassword: u.SaltedPassword})
		}
		results, err := h.ctrl.AlterUserScramCredentials(rc.ctx, dels, ups)
		if err != nil {
			return alterScramError(req, errorCode(rc.log, err))
		}
		for _, r := range results {
			rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
			rr.User = r.User
			if r.Err != nil {
				rr.ErrorCode = errorCode(rc.log, r.Err)
				msg := r.Err.Error()
				rr.ErrorMessage = &msg
			}
			resp.Results = append(resp.Results, rr)
		}
		return resp
	})
}

// alterScramError answers every user of req with code.
func alterScramError(req *kmsg.AlterUserSCRAMCredentialsRequest, code int16) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var seen []string
	add := func(user string) {
		if slices.Contains(seen, user) {
			return
		}
		seen = append(seen, user)
		rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		rr.User, rr.ErrorCode = user, code
		resp.Results = append(resp.Results, rr)
	}
	for _, d := range req.Deletions {
		add(d.Name)
	}
	for _, u := range req.Upsertions {
		add(u.Name)
	}
	return resp
}
