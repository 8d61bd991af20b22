package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/strata-io/strata/internal/kafkaerr"
)

func newClusterCommand() *cobra.Command {
	cmd, cf := newParentCommand("cluster", "Show the state of the cluster and remove brokers",
		"how long the whole command may wait for the cluster")
	cmd.AddCommand(newClusterStatusCommand(cf), newClusterRemoveBrokerCommand(cf))
	return cmd
}

// clusterStatus is what `cluster status` reports; its JSON form is the
// --json output.
type clusterStatus struct {
	ClusterID string `json:"cluster_id"`
	// ActiveController leads the metadata quorum (DescribeQuorum), or,
	// from a cluster that does not answer DescribeQuorum, is the controller
	// DescribeCluster names; -1 if none.
	ActiveController int32 `json:"active_controller"`
	// Controllers are the quorum's voters and Observers its non-voting
	// members (broker-only nodes); empty without DescribeQuorum.
	Controllers []int32         `json:"controllers,omitempty"`
	Observers   []int32         `json:"observers,omitempty"`
	Brokers     []clusterBroker `json:"brokers"`
	Topics      int             `json:"topics"`
	Partitions  int             `json:"partitions"`
	// UnderReplicated counts partitions whose ISR is smaller than their
	// replica set; UnderMinISR those whose ISR is smaller than the topic's
	// min.insync.replicas; Offline those without a leader.
	UnderReplicated int `json:"under_replicated_partitions"`
	UnderMinISR     int `json:"under_min_isr_partitions"`
	Offline         int `json:"offline_partitions"`
}

type clusterBroker struct {
	NodeID int32  `json:"node_id"`
	Host   string `json:"host"`
	Port   int32  `json:"port"`
	Rack   string `json:"rack,omitempty"`
	Fenced bool   `json:"fenced"`
}

func newClusterStatusCommand(cf *clientFlags) *cobra.Command {
	var asJSON bool
	cmd := silence(&cobra.Command{
		Use:   "status",
		Short: "Show the active controller, brokers and partition health",
		Args:  cobra.NoArgs,
	})
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object instead of text")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		return withClients(cmd, cf, func(ctx context.Context, cl *kgo.Client, adm *kadm.Client) error {
			st, err := readClusterStatus(ctx, cl, adm)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				return enc.Encode(st)
			}
			return writeClusterStatus(cmd.OutOrStdout(), st)
		})
	}
	return cmd
}

// readClusterStatus asks DescribeCluster for the controller and brokers
// (v2+ includes fenced brokers, KIP-1073), Metadata for every partition and
// DescribeConfigs for each topic's min.insync.replicas.
func readClusterStatus(ctx context.Context, cl *kgo.Client, adm *kadm.Client) (clusterStatus, error) {
	st := clusterStatus{ActiveController: -1}
	dreq := kmsg.NewPtrDescribeClusterRequest()
	dreq.IncludeFencedBrokers = true
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		return st, fmt.Errorf("describe cluster: %w", err)
	}
	if err := kerr.ErrorForCode(dresp.ErrorCode); err != nil {
		msg := ""
		if dresp.ErrorMessage != nil {
			msg = *dresp.ErrorMessage
		}
		return st, fmt.Errorf("describe cluster: %w", kafkaerr.WithMessage(err, msg))
	}
	st.ClusterID, st.ActiveController = dresp.ClusterID, dresp.ControllerID
	for _, b := range dresp.Brokers {
		cb := clusterBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Fenced: b.IsFenced}
		if b.Rack != nil {
			cb.Rack = *b.Rack
		}
		st.Brokers = append(st.Brokers, cb)
	}
	slices.SortFunc(st.Brokers, func(a, b clusterBroker) int { return int(a.NodeID) - int(b.NodeID) })
	readQuorum(ctx, cl, &st)

	md, err := adm.Metadata(ctx)
	if err != nil {
		return st, fmt.Errorf("metadata: %w", err)
	}
	var names []string
	for _, t := range md.Topics.Sorted() {
		if t.Err != nil {
			return st, topicError(t.Topic, fmt.Errorf("metadata: %w", t.Err))
		}
		names = append(names, t.Topic)
	}
	minISR := make(map[string]int, len(names))
	if len(names) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, names...)
		if err != nil {
			return st, fmt.Errorf("describe topic configs: %w", err)
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				return st, topicError(rc.Name, fmt.Errorf("describe configs: %w", kafkaerr.WithMessage(rc.Err, rc.ErrMessage)))
			}
			for _, c := range rc.Configs {
				if c.Key != "min.insync.replicas" || c.Value == nil {
					continue
				}
				n, err := strconv.Atoi(*c.Value)
				if err != nil {
					return st, topicError(rc.Name, fmt.Errorf("min.insync.replicas %q is not a number", *c.Value))
				}
				minISR[rc.Name] = n
			}
		}
	}
	st.Topics = len(names)
	for _, t := range md.Topics.Sorted() {
		minInsync, ok := minISR[t.Topic]
		if !ok {
			minInsync = 1 // Kafka's default
		}
		for _, p := range t.Partitions.Sorted() {
			st.Partitions++
			if p.Leader < 0 {
				st.Offline++
			}
			if len(p.ISR) < len(p.Replicas) {
				st.UnderReplicated++
			}
			if len(p.ISR) < minInsync {
				st.UnderMinISR++
			}
		}
	}
	return st, nil
}

// readQuorum fills the controllers from DescribeQuorum; a cluster that
// does not serve it (older brokers) keeps DescribeCluster's controller.
func readQuorum(ctx context.Context, cl *kgo.Client, st *clusterStatus) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = "__cluster_metadata"
	rt.Partitions = []kmsg.DescribeQuorumRequestTopicPartition{kmsg.NewDescribeQuorumRequestTopicPartition()}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return
	}
	st.ActiveController = p.LeaderID
	for _, v := range p.CurrentVoters {
		st.Controllers = append(st.Controllers, v.ReplicaID)
	}
	for _, o := range p.Observers {
		st.Observers = append(st.Observers, o.ReplicaID)
	}
}

// writeClusterStatus prints st as a short block:
//
//	Cluster: ID
//	Active controller: 1
//	Controllers: 1, 2, 3
//	Brokers: 3 (2 alive, 1 fenced)
//	  ID  ADDRESS          RACK  STATE
//	  1   127.0.0.1:9092   a     alive
//	Partitions: 12 in 3 topics
//	  under-replicated: 4
//	  under-min-isr: 0
//	  offline: 0
func writeClusterStatus(w io.Writer, st clusterStatus) error {
	ctrl := "none"
	if st.ActiveController >= 0 {
		ctrl = strconv.Itoa(int(st.ActiveController))
	}
	fenced := 0
	for _, b := range st.Brokers {
		if b.Fenced {
			fenced++
		}
	}
	fmt.Fprintf(w, "Cluster: %s\n", st.ClusterID)
	fmt.Fprintf(w, "Active controller: %s\n", ctrl)
	if len(st.Controllers) > 0 {
		fmt.Fprintf(w, "Controllers: %s\n", joinIDs(st.Controllers))
	}
	fmt.Fprintf(w, "Brokers: %d (%d alive, %d fenced)\n", len(st.Brokers), len(st.Brokers)-fenced, fenced)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ID\tADDRESS\tRACK\tSTATE")
	for _, b := range st.Brokers {
		rack, state := b.Rack, "alive"
		if rack == "" {
			rack = "-"
		}
		if b.Fenced {
			state = "fenced"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\n", b.NodeID, net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port))), rack, state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Partitions: %d in %d topics\n", st.Partitions, st.Topics)
	fmt.Fprintf(w, "  under-replicated: %d\n", st.UnderReplicated)
	fmt.Fprintf(w, "  under-min-isr: %d\n", st.UnderMinISR)
	_, err := fmt.Fprintf(w, "  offline: %d\n", st.Offline)
	return err
}

func joinIDs(ids []int32) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Itoa(int(id))
	}
	return strings.Join(out, ", ")
}
