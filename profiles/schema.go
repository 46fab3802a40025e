package profiles

// File is one profile file as written. Every section is optional; an
// absent list grants nothing, except [tools], [resources] and [prompts]
// allow, where absent means everything.
type File struct {
	Include    []string   `toml:"include"`
	Server     Server     `toml:"server"`
	Filesystem Filesystem `toml:"filesystem"`
	Network    Network    `toml:"network"`
	Env        Env        `toml:"env"`
	Secrets    map[string]any
	Tools      Tools     `toml:"tools"`
	Resources  Names     `toml:"resources"`
	Prompts    Names     `toml:"prompts"`
	Client     Client    `toml:"client"`
	Limits     Limits    `toml:"limits"`
	Audit      AuditConf `toml:"audit"`
	Sandbox    Sandbox   `toml:"sandbox"`
}

// Server says how to start the server when the command line does not.
type Server struct {
	Command []string `toml:"command"`
	Cwd     string   `toml:"cwd"`
}

// Filesystem lists the paths the server may touch.
type Filesystem struct {
	Read     []string `toml:"read"`
	Write    []string `toml:"write"`
	Exec     []string `toml:"exec"`
	Optional []string `toml:"optional"`
}

// Network lists what the server may reach.
type Network struct {
	Hosts []string `toml:"hosts"`
	Ports []int    `toml:"ports"`
	Bind  []int    `toml:"bind"`
	UDP   *bool    `toml:"udp"`
	Unix  *bool    `toml:"unix"`
}

// Env says what environment the server starts with.
type Env struct {
	Pass []string          `toml:"pass"`
	Set  map[string]string `toml:"set"`
}

// Names is an allow/deny pair of globs.
type Names struct {
	Allow []string `toml:"allow"`
	Deny  []string `toml:"deny"`
}

// Tools adds argument constraints to the allow/deny globs; the keys of
// Args are globs of tool names too.
type Tools struct {
	Allow []string                      `toml:"allow"`
	Deny  []string                      `toml:"deny"`
	Args  map[string]map[string]ArgRule `toml:"args"`
	// Pin = false stops pinning the server's tool surface (default true).
	Pin *bool `toml:"pin"`
}

// ArgRule constrains one argument of the tools a [tools.args] key
// names. On an array it constrains each element.
type ArgRule struct {
	Within []string `toml:"within"`
	Match  string   `toml:"match"`
	Enum   []any    `toml:"enum"`
	MaxLen int      `toml:"max_len"`
	From   Source   `toml:"-"` // where it was written
}

// Client says what the server may ask of the client, and which clients
// may use the server.
type Client struct {
	Sampling    *bool    `toml:"sampling"`
	Elicitation *bool    `toml:"elicitation"`
	Roots       *bool    `toml:"roots"`
	Names       []string `toml:"names"`
}

// Limits bounds what one frame may be.
type Limits struct {
	MaxFrame int `toml:"max_frame"`
}

// AuditConf places the audit log and bounds its size.
type AuditConf struct {
	Path    string `toml:"path"`
	MaxSize any    `toml:"max_size"` // bytes, or a string such as "64MiB"
	Keep    *int   `toml:"keep"`     // rotated files kept
}

// Sandbox says how strict the cell must be.
type Sandbox struct {
	BestEffort   *bool `toml:"best_effort"`
	Required     *bool `toml:"required"`
	MaxProcesses *int  `toml:"max_processes"`
}
