package main

import (
	"fmt"
	"io"

	"github.com/mailflow/mailflow/internal/config"
)

func configCheckCmd(args []string, stdout, stderr io.Writer) int {
	fs := flags("config check", stderr)
	cfgPath := fs.String("config", "config.toml", "configuration `file`")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitFailed
	}
	cfg.Print(stdout)
	fmt.Fprintf(stdout, "\n%s is valid.\n", *cfgPath)
	return exitOK
}
