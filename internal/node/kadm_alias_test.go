package node

import (
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type kadmListedOffset = kadm.ListedOffset

func kadmClient(c *kgo.Client) *kadm.Client { return kadm.NewClient(c) }
