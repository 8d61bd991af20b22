package console

import "embed"

// uiFS holds the console's pages: plain files, served as they are.
//
//go:embed ui
var uiFS embed.FS
