package node

import (
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type kadmListedOffset = kadm.ListedOffset

func kadmClient(c *kgo.Client) *kadm.Client { return kadm.NewClient(c) }

type kmsgInitProducerIDResponse = kmsg.InitProducerIDResponse

func kmsgInitProducerID() *kmsg.InitProducerIDRequest {
	r := kmsg.NewPtrInitProducerIDRequest()
	r.Version = 4
	return r
}
