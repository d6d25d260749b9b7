package config

// The raw* types mirror the TOML file. Decoding rejects unknown keys, so every
// key here is documented in config.example.toml.

// refusedKeys are decoded only to be refused with a clear message: a secret
// written into the file. They are never suggested and never documented.
var refusedKeys = map[string]bool{"password": true, "token": true, "url": true, "hmac_secret": true, "client_secret": true}

type rawFile struct {
	ProvidersFile string                  `toml:"providers_file"`
	Store         rawStore                `toml:"store"`
	Housekeeping  rawHousekeeping         `toml:"housekeeping"`
	IMAP          rawIMAP                 `toml:"imap"`
	Paths         map[string]rawPath      `toml:"paths"`
	SeedLists     map[string]string       `toml:"seed_lists"`
	Seeds         map[string]rawSeed      `toml:"seeds"`
	Checks        map[string]rawCheck     `toml:"checks"`
	Providers     map[string]*rawProvider `toml:"providers"`
	Web           rawWeb                  `toml:"web"`
	Notifiers     map[string]rawNotifier  `toml:"notifiers"`
	OAuth         map[string]any          `toml:"oauth"` // token_file and [oauth.ID] profiles: see oauth.go
}

type rawStore struct {
	Path string `toml:"path"`
}

type rawHousekeeping struct {
	Retention  string `toml:"retention"`
	PurgeAfter string `toml:"purge_after"`
	Interval   string `toml:"interval"`
}

type rawIMAP struct {
	ConnectionsPerHost *int `toml:"connections_per_host"`
}

type rawPath struct {
	Host               string   `toml:"host"`
	Port               int      `toml:"port"`
	Security           string   `toml:"security"`
	StartTLS           string   `toml:"starttls"`
	TLSServerName      string   `toml:"tls_server_name"`
	CAFile             string   `toml:"ca_file"`
	Username           string   `toml:"username"`
	Password           string   `toml:"password"` // refused: secrets never live in the file
	PasswordEnv        string   `toml:"password_env"`
	PasswordFile       string   `toml:"password_file"`
	AuthMechanism      string   `toml:"auth_mechanism"`
	AllowPlaintextAuth bool     `toml:"allow_plaintext_auth"`
	HELO               string   `toml:"helo"`
	MailFrom           string   `toml:"mail_from"`
	From               string   `toml:"from"`
	Timeout            string   `toml:"timeout"`
	DKIM               *rawDKIM `toml:"dkim"`
	rawLogin
}

type rawDKIM struct {
	Domain   string `toml:"domain"`
	Selector string `toml:"selector"`
	KeyFile  string `toml:"key_file"`
}

type rawSeed struct {
	Address            string   `toml:"address"`
	Provider           string   `toml:"provider"`
	IMAPHost           string   `toml:"imap_host"`
	IMAPPort           int      `toml:"imap_port"`
	IMAPSecurity       string   `toml:"imap_security"`
	CAFile             string   `toml:"ca_file"`
	TLSServerName      string   `toml:"tls_server_name"`
	Username           string   `toml:"username"`
	Password           string   `toml:"password"`
	PasswordEnv        string   `toml:"password_env"`
	PasswordFile       string   `toml:"password_file"`
	AllowPlaintextAuth bool     `toml:"allow_plaintext_auth"`
	Inbox              string   `toml:"inbox"`
	Junk               string   `toml:"junk"`
	Trust              []string `toml:"trust"`
	Cleanup            *bool    `toml:"cleanup"`
	IDLE               *bool    `toml:"idle"`
	FastPoll           string   `toml:"fast_poll"`
	Folders            []string `toml:"folders"`
	rawLogin
}

type rawSeedList struct {
	Seeds map[string]rawSeed `toml:"seeds"`
}

type rawCheck struct {
	Schedule     string             `toml:"schedule"`
	Jitter       string             `toml:"jitter"`
	Paths        []string           `toml:"paths"`
	Seeds        []string           `toml:"seeds"`
	SeedLists    []string           `toml:"seed_lists"`
	Deadline     string             `toml:"deadline"`
	PollInterval string             `toml:"poll_interval"`
	Subject      string             `toml:"subject"`
	Body         string             `toml:"body"`
	Alerts       map[string]rawRule `toml:"alerts"`
}

type rawProvider struct {
	Name           string   `toml:"name"`
	Domains        []string `toml:"domains"`
	IMAPHost       string   `toml:"imap_host"`
	IMAPPort       int      `toml:"imap_port"`
	IMAPSecurity   string   `toml:"imap_security"`
	JunkFolders    []string `toml:"junk_folders"`
	AuthservIDs    []string `toml:"authserv_ids"`
	MaxConnections int      `toml:"max_connections"`
	SpamFilters    []string `toml:"spam_filters"`
	// A pointer: false given in a file must override a built-in true.
	TrustTopmostWithoutID *bool  `toml:"trust_topmost_without_id"`
	Notes                 string `toml:"notes"`
	OAuthProvider         string `toml:"oauth_provider"`
	IMAPID                *bool  `toml:"imap_id"`
}

type rawCatalog struct {
	Providers map[string]*rawProvider     `toml:"providers"`
	OAuth     map[string]*rawOAuthProfile `toml:"oauth"`
}
