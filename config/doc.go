// Package config is the one typed configuration of a ringex node: what the
// node listens on, how big its rings are, where and how it journals and
// snapshots, how it logs, its cluster peers, and the instruments and
// accounts the engine starts with. It imports only the ringex packages
// whose limits and encodings its validation checks against (engine, input,
// proto, vfs) and none that runs a stage; the node maps a Config onto each
// component's own options.
//
// # Keys
//
// Every setting has a key: its YAML path with dots, e.g. gateway.listen,
// rings.input_slots, gateway.tls.cert_file. Keys lists them. The same key
// names the setting in the YAML file, in Set (flags), in environment
// variables (below) and in every validation error. List entries appear in
// errors as instruments[2].tick_size.
//
// # Precedence contract
//
// The effective config is built in four layers; each later layer overrides
// only the keys it sets:
//
//  1. Defaults: default.yaml, embedded in the binary (Default). They alone
//     start a working single-node demo exchange with data in ./data.
//  2. The YAML file (Load's path, the CLI's --config). Unknown keys are an
//     error. A key left out keeps its default; a list given in the file
//     (instruments, accounts, cluster.peers) replaces the default list
//     wholesale.
//  3. Environment variables (Load's env), one per scalar key.
//  4. Flags: the CLI calls Set(key, value) for each --set given, and
//     SetFlag(flag, key, value) for each flag of its own that sets a key
//     (--node-id: node.id).
//
// Load applies layers 1–3 and does not validate; the caller applies flags
// with Set and SetFlag and then calls Validate, so a later layer can
// repair an earlier one. Validate reports every problem at once:
// errors.Join of *KeyError, each printing as "config: <key>: <reason>"
// and matching ErrInvalid with errors.Is; the reason ends with the layer
// that set the value refused, " (from <layer>)" — the file's path, the
// variable, --set, or the flag that set it (--log-level) — while the key
// holds the value that layer set (none for a default, a value the
// program assigned, or an entry of instruments or accounts, which only a
// file sets). Load, Set and SetFlag fail on the first unknown key
// (ErrUnknownKey) or unparseable value (ErrBadValue), naming the key and
// the variable, --set, the flag, or the file and its line.
//
// # Environment variables
//
// The variable for a key is RINGEX_ followed by the key in upper case with
// dots replaced by underscores (EnvName):
//
//	gateway.listen          RINGEX_GATEWAY_LISTEN=":7400"
//	gateway.tls.cert_file   RINGEX_GATEWAY_TLS_CERT_FILE=/etc/ringex/cert.pem
//	journal.sync            RINGEX_JOURNAL_SYNC=none
//	admin.token             RINGEX_ADMIN_TOKEN=...
//	cluster.peers           RINGEX_CLUSTER_PEERS="1=n1:7500=n1:7400,2=n2:7500=n2:7400"
//
// Values use the same forms as Set: Go durations ("5s"), decimal integers,
// strconv.ParseBool booleans, comma-separated peers. The instruments and
// accounts lists have no variables; they come only from files. A RINGEX_
// variable that matches no key is an error (a typo must not pass
// silently), except RINGEX_CONFIG (EnvConfigPath), which the CLI reads as
// the config file path, and RINGEX_ADMIN_CA (EnvAdminCA), a CA the admin
// commands trust.
//
// # Secrets
//
// The secrets are admin.token and every account's secret: the fields
// tagged `secret:"true"`, the one list that Masked and the loader (which
// refuses YAML anchors for them and never shows them in an error) both
// read. Masked and Print replace them with "***"; Validate refuses "***" as a secret, so printed
// output never runs by accident with fake secrets.
//
// admin.token may come from a file instead, admin.token_file, which
// ReadTokenFile reads before Validate. Both may be set when they give the
// same token; different ones are refused, naming both and neither token
// (AgreedToken, the admin commands' rule for their sources too). Validate
// refuses admin.token_file unless admin.token is the token ReadTokenFile
// read from that very file: a file never read — also beside admin.token,
// which the node took without looking at the file — or admin.token set
// to another token after the read.
//
// admin.token or admin.token_file given empty — by a variable or Set —
// over one a lower layer set is refused (ErrBadValue), naming both
// layers: a variable left empty by mistake took the token away, and a
// loopback admin port asked for none.
//
// A message about admin.token — refused by Validate, or differing from
// the file's — names the layer that set it last, never the token: the
// config file's path, the variable (RINGEX_ADMIN_TOKEN), --set (Set), or
// admin.token_file and its path, as "(from RINGEX_ADMIN_TOKEN)". A
// program that assigns Admin.Token itself sets no layer, and its
// messages name none, also when a layer had set the token it replaced:
// a layer is named only while the token is the one it set.
package config
