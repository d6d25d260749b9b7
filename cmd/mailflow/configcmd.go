package main

import (
	"fmt"
	"io"
)

func configCheckCmd(args []string, stdout, stderr io.Writer) int {
	cfg, _, code, ok := commonFlags(flags("config check", stderr), "", false).start(args, stderr)
	if !ok {
		return code
	}
	cfg.Print(stdout)
	fmt.Fprintf(stdout, "\n%s is valid.\n", cfg.File)
	return exitOK
}
