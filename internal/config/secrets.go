package config

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/mailflow/mailflow/internal/message"
)

// Secrets come from the environment or from files, never from the config file
// itself, so that a config can be shared, reviewed and committed. No problem
// reported here ever includes a secret's value.

// secretKeys are the raw keys of one credential: name (default "password"),
// name_env and name_file.
type secretKeys struct {
	inline, env, file string
	name              string
}

// secret reads a credential named by key's password_env or password_file. A
// credential that is not named at all is left for Validate to report, where a
// seed needs one and a path with a username does.
func secret(pr problems, key string, k secretKeys, dir string) Secret {
	name := or(k.name, "password")
	env, file := name+"_env", name+"_file"
	if k.inline != "" {
		pr.add(key+"."+name, "secrets are never read from the config file (use %s or %s)", env, file)
	}
	switch {
	case k.env != "" && k.file != "":
		pr.add(key+"."+file, "both %s and %s are set (keep one)", env, file)
	case k.env != "":
		v, ok := os.LookupEnv(k.env)
		switch {
		case !ok:
			pr.add(key+"."+env, "%s is not set (export it or use %s)", k.env, file)
		case v == "":
			pr.add(key+"."+env, "%s is set but empty (export the %s in it or use %s)", k.env, name, file)
		default:
			return NewSecret(v, "env:"+k.env)
		}
	case k.file != "":
		f := inDir(dir, k.file)
		b, err := readSmall(f)
		if err != nil {
			pr.add(key+"."+file, "%v (create the file or fix the path)", err)
			return Secret{}
		}
		// Only the first line counts, so that a trailing newline is harmless.
		v, _, _ := strings.Cut(string(b), "\n")
		v = strings.TrimSuffix(v, "\r")
		if v == "" {
			pr.add(key+"."+file, "%s is empty or starts with an empty line (write the %s on its first line)", f, name)
			return Secret{}
		}
		return NewSecret(v, "file:"+f)
	}
	return Secret{}
}

// readDKIMKey reads the PEM private key named by key_file. Validate checks
// that it parses.
func readDKIMKey(pr problems, key, file string) Secret {
	if file == "" {
		return Secret{} // Validate names the missing key_file
	}
	b, err := readSmall(file)
	if err != nil {
		pr.add(key, "%v (create the key, e.g. with openssl genpkey -algorithm ed25519, or fix the path)", err)
		return Secret{}
	}
	return NewSecret(string(b), "file:"+file)
}

// checkDKIMKey reports whether a PEM private key is one a probe can be signed
// with; message.ParseDKIMKey is what signs, so it is what decides.
func checkDKIMKey(data string) error {
	_, err := message.ParseDKIMKey([]byte(data))
	return err
}

// checkCAFile reports whether file holds at least one PEM certificate.
func checkCAFile(file string) error {
	b, err := readSmall(file)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(b) {
		return fmt.Errorf("%s holds no PEM certificate", file)
	}
	return nil
}
