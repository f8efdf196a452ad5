package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ringex/ringex/config"
	"github.com/ringex/ringex/gateway"
	"github.com/ringex/ringex/node"
)

// envAdminCA names a PEM file of a CA the admin commands trust for an
// https:// --admin (admin.tls with a private CA).
const envAdminCA = config.EnvAdminCA

func adminPost(addr, path, token string, out io.Writer) error {
	return adminDo("POST", addr, path, token, out)
}

// adminControl sends a control input (snapshot, halt, resume, account
// suspend and resume) to the leader among addrs, a comma-separated list of
// a cluster's admin addresses: it tries each in turn, going on past a
// member that is not the leader (503 naming the leader), is stopping, or
// does not answer, and stops at the first that takes it (its success
// answer cut short included: cutError) or refuses it otherwise. One address is asked alone, as before. flagToken is the
// --token flag's value: the token is adminToken's, refused once, before
// any member is asked.
//
// When none took it and one said that no member leads for now (noLeaderYet:
// an election under way, a leader just elected, a member stopping, or
// replaying or mapping its rings as it restarts), it asks them all again
// every askAgainEvery for up to askAgainWithin, saying so once on
// errOut: a command run during
// an election failed where waiting for it took it. Nothing was applied
// by a refusal of that kind; a member whose answer the network lost in
// the same round is asked again too, and may have applied it — safe, as
// every control is safe to repeat (halt, resume, suspend and snapshot
// change nothing the second time; Replace answers nothing changed).
func adminControl(addrs, path, flagToken string, out, errOut io.Writer) error {
	list, err := adminAddrs(addrs)
	if err != nil {
		return err
	}
	token, err := adminToken(flagToken)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(askAgainWithin)
	for said := false; ; said = true {
		again, err := askEach(list, path, token, out)
		if !again {
			return err
		}
		if time.Now().Add(askAgainEvery).After(deadline) {
			return fmt.Errorf("%w (asked again for %v: still no member leads)", err, askAgainWithin)
		}
		if !said {
			fmt.Fprintf(errOut, "ringex: no member leads for now (an election, or a member restarting): asking again every %v for up to %v\n  %v\n",
				askAgainEvery, askAgainWithin, err)
		}
		time.Sleep(askAgainEvery)
	}
}

// How adminControl asks again while no member leads: longer than an
// election and a new leader's catching up take on a loaded machine (a
// few seconds at the runbook's timeouts), short enough for an operator
// to wait for.
const (
	askAgainEvery  = 500 * time.Millisecond
	askAgainWithin = 15 * time.Second
)

// askEach is one round of adminControl: it asks the members of list
// (adminAddrs's) in turn, and reports with the error whether asking again may find a
// leader — none took the control and one said no member leads for now.
// When none took it and the members named a leader, the error names it:
// the list lacks its address, or it did not answer.
func askEach(list []string, path, token string, out io.Writer) (again bool, err error) {
	var errs []error
	named := "" // the leader a member's refusal names, if one did
	for _, addr := range list {
		err := adminPost(addr, path, token, out)
		if err == nil {
			return false, nil
		}
		var ans *answerError
		var cut *cutError
		refused := errors.As(err, &ans) && ans.code == http.StatusServiceUnavailable
		again = again || refused && noLeaderYet(ans.body)
		if refused {
			if id := leaderNamed(ans.body); id != "" {
				named = id
			}
		}
		if len(list) == 1 {
			return again, err
		}
		if errors.As(err, &cut) || ans != nil && !(refused && passOn(ans.body)) {
			return false, fmt.Errorf("%s: %w", addr, err)
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	if named != "" && !again {
		// The members answered, naming a leader none of the addresses
		// reached: "none leads" was not true, and the operator was left
		// to find the address the list lacks in each member's refusal.
		return false, fmt.Errorf("no member took it: node %s leads, as the others answered, and no address given answered as it "+
			"(add its admin address to --admin; if it is there and did not answer, it may have just stopped: ask again): %w", named, errors.Join(errs...))
	}
	return again, fmt.Errorf("no member took it (none leads, or none answered): %w", errors.Join(errs...))
}

// leaderNamed is the id of the leader a follower's refusal names
// (node.refusal's "not the leader: node N leads; …"), or "" when it
// names none.
func leaderNamed(body string) string {
	_, rest, ok := strings.Cut(body, "not the leader: node ")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, " leads")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		return ""
	}
	return id
}

// passOn reports whether a control refused with body (a 503) is for
// another member to take: this one does not lead, or is stopping (a
// member restarted one at a time, as the runbook's procedures do).
func passOn(body string) bool {
	return strings.Contains(body, "not the leader") || strings.HasPrefix(body, "node: stopping") || starting(body)
}

// starting reports whether body is a node's answer before it is live —
// restarting: its admin port answers from the start of its replay —
// replaying the journal (node.StartReplaying), mapping its engine's
// pools before it (node.StartMappingPools), mapping its rings after it
// (node.StartMappingRings), or at a later step of the start
// ("starting: …").
func starting(body string) bool {
	return body == node.StartReplaying || strings.HasPrefix(body, "starting: ")
}

// noLeaderYet reports whether a refusal passOn takes says that no
// member leads for now, rather than naming the one that does: no leader
// known (an election), a leader just elected and applying earlier
// entries, a member stopping or starting (node.refusal's words, and
// the start's).
func noLeaderYet(body string) bool {
	return strings.Contains(body, "not the leader: no leader known") || strings.Contains(body, "was just elected") ||
		strings.HasPrefix(body, "node: stopping") || starting(body)
}

// adminDo makes one request to a node's admin port and copies the body of
// a successful answer to out. addr is host:port (plain HTTP) or
// https://host:port (admin.tls), trusting the system's CAs and the one in
// the file $RINGEX_ADMIN_CA names. token is the one adminToken gave, sent
// unless "".
func adminDo(method, addr, path, token string, out io.Writer) error {
	base := addr
	if !strings.HasPrefix(addr, "https://") && !strings.HasPrefix(addr, "http://") {
		base = "http://" + addr
	}
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return err
	}
	// Redirects are not followed: net/http sends the Authorization header
	// on to any port of the same host (in clear, to an http:// one) and to
	// its subdomains, and the token goes only to the addresses named. The
	// admin port redirects none of these requests.
	hc := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if ca := os.Getenv(envAdminCA); ca != "" && req.URL.Scheme == "https" {
		pool, err := trustingCA(ca)
		if err != nil {
			return fmt.Errorf("%s: %w", envAdminCA, err)
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		// A node not running said only `Post "http://…": … connection refused`.
		return refusedHint(err, "--admin", "admin.listen")
	}
	defer resp.Body.Close()
	if to := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && to != "" {
		return fmt.Errorf("%s answered %s, a redirect to %s: not followed (the admin token goes only to the addresses named)", addr, resp.Status, to)
	}
	if resp.StatusCode >= 300 {
		// A refusal's words, at most maxRefusalBody of them: the node's
		// are a line or two, and anything answering the address could
		// send without end.
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody+1))
		ans := &answerError{code: resp.StatusCode, status: resp.Status, cut: err}
		if len(body) > maxRefusalBody {
			body, ans.more = body[:maxRefusalBody], true
		}
		ans.body = strings.TrimSpace(string(body))
		return ans
	}
	// The whole answer or an error: a part of one printed as if it were
	// all (the client's timeout, the node stopping mid-answer) exited 0,
	// and ringex status or sessions failed to read it as JSON.
	// At most maxAnswerBody of it: anything answering the address could
	// send without end, and the command held all it read.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBody+1))
	if err != nil {
		return &cutError{method: method, status: resp.Status, read: len(body), err: err}
	}
	if len(body) > maxAnswerBody {
		return fmt.Errorf("%s answered %s %s with %s and passed %d MiB without ending: no ringex node's answer is that long "+
			"(GET /sessions, the longest, takes at most %d bytes a session); is %s a ringex node's admin port (admin.listen)?",
			addr, method, path, resp.Status, maxAnswerBody>>20, maxSessionAnswer, addr)
	}
	fmt.Fprint(out, string(body))
	return nil
}

// maxAnswerBody bounds the body of a successful answer adminDo reads.
// The longest a node gives is GET /sessions's: a JSON object of
// maxSessionAnswer bytes at most per session (the longest id, account,
// IPv6 address with a zone and time: 223 measured, with its comma), so
// 64 MiB holds about 300 000 sessions — gateway.max_connections's
// default is 1024 — and GET /metrics and /state are kilobytes.
const maxAnswerBody = 64 << 20

// maxSessionAnswer is the most bytes one session takes in GET
// /sessions's answer (gateway.SessionInfo's JSON; maxAnswerBody).
const maxSessionAnswer = 223

// maxRefusalBody bounds the body of an answer refusing a request that
// adminDo reads.
const maxRefusalBody = 64 << 10

// cutError: the node answered a request with a success (2xx), and the
// answer was cut before its end. The node took the request: a control
// input so answered is one it took, not one for another member
// (askEach).
type cutError struct {
	method, status string
	read           int // bytes read before the cut
	err            error
}

func (e *cutError) Error() string {
	msg := fmt.Sprintf("the node answered %s and the answer was cut after %d bytes: %v", e.status, e.read, e.err)
	if e.method == http.MethodPost {
		msg += "; it took the request (look at its state before sending it again)"
	}
	return msg
}

func (e *cutError) Unwrap() error { return e.err }

// The admin token's sources, as messages name them (adminToken).
const (
	tokenFromFlag = "--token"
	tokenFromEnv  = "$RINGEX_ADMIN_TOKEN"
	tokenFromFile = "the file $RINGEX_ADMIN_TOKEN_FILE names"
)

// adminToken is the admin token the admin commands send: the one flag
// (--token), $RINGEX_ADMIN_TOKEN and the file $RINGEX_ADMIN_TOKEN_FILE
// names give, "" when none is set. Two or three may be set when they give
// the same token; when they disagree the command is refused, naming the
// sources set and not the tokens (config.AgreedToken, the node's rule for
// admin.token beside admin.token_file too): it took the flag, else the
// variable, else the file, silently, and an operator with a stale
// variable beside the right flag or file got a 401 with no clue which
// token went. A token no node takes is refused naming its source, before
// anything is compared or sent.
func adminToken(flag string) (string, error) {
	sources := []config.TokenSource{{Name: tokenFromFlag, Token: flag}, {Name: tokenFromEnv, Token: os.Getenv("RINGEX_ADMIN_TOKEN")}}
	for _, s := range sources {
		if why := config.TokenUnsendable(s.Token); why != "" {
			// No node takes it (config validation): net/http refused a
			// newline in words that named no token, and a space went as a
			// wrong token.
			return "", fmt.Errorf("the admin token (%s) %s", s.Name, why)
		}
	}
	if path := os.Getenv("RINGEX_ADMIN_TOKEN_FILE"); path != "" {
		// The node's own admin.token_file variable: a shell beside the
		// node (a container's) has the file the node reads — refused, as
		// the node refuses it, when its group or others may write it.
		t, err := config.AdminTokenFromFile(path)
		if err != nil {
			return "", fmt.Errorf("RINGEX_ADMIN_TOKEN_FILE: %w", err)
		}
		sources = append(sources, config.TokenSource{Name: tokenFromFile, Token: t})
	}
	token, err := config.AgreedToken(sources...)
	if err != nil {
		return "", fmt.Errorf("%w: give one — unset the variable that is stale, or leave out --token", err)
	}
	return token, nil
}

// answerError: the node answered, refusing the request. body is what
// was read of its answer: the first maxRefusalBody bytes (more: it went
// on), up to a cut (cut: the error that ended it).
type answerError struct {
	code         int
	status, body string
	more         bool
	cut          error
}

// Error is the node's answer, with a hint for a 401: only a missing or
// wrong token is answered 401. A 403 has other causes — a Host header
// that names no loopback address, a browser's request from another
// site's page — and the node's answer names its own.
func (e *answerError) Error() string {
	msg := e.status + ": " + e.body
	switch {
	case e.cut != nil:
		msg += fmt.Sprintf(" … (the answer was cut: %v)", e.cut)
	case e.more:
		msg += fmt.Sprintf(" … (the first %d KiB of the answer)", maxRefusalBody>>10)
	}
	if e.code == http.StatusUnauthorized {
		msg += " (wrong or missing --token / $RINGEX_ADMIN_TOKEN / the file $RINGEX_ADMIN_TOKEN_FILE names)"
	}
	return msg
}

func newSnapshotCmd() *cobra.Command {
	var a adminFlags
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Ask a running node to take a snapshot now",
		Long: `Sends a snapshot command to a running node through its admin endpoint. The
command travels through the input ring, so the snapshot is taken at an exact
sequence; the node writes it to <data_dir>/snapshots off the matching thread.
It exits 0 once the node is taking the snapshot, and 1 with the node's reason
when it refuses (409: skipped, the last snapshot is still being copied or
written; 503: not the leader, stopping, or the command not applied in time).`,
		Example: "  ringex snapshot\n  ringex snapshot --admin 127.0.0.1:7480",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return adminControl(a.addr, "/snapshot", a.token, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	a.registerControl(cmd)
	return cmd
}

// adminFlags are the flags of the commands that talk to a node's admin
// endpoint.
type adminFlags struct{ addr, token string }

// register adds the flags to cmd.
func (a *adminFlags) register(cmd *cobra.Command) {
	a.registerAs(cmd, "the node's admin address (https://host:port for admin.tls; $RINGEX_ADMIN_CA: a CA to trust)")
}

// registerControl adds the flags to a command that sends a control
// input, which a cluster takes only at its leader (adminControl).
func (a *adminFlags) registerControl(cmd *cobra.Command) {
	a.registerAs(cmd, "the node's admin address, or a cluster's as A,B,C: sent to the one that leads "+
		"(https://host:port for admin.tls; $RINGEX_ADMIN_CA: a CA to trust)")
}

func (a *adminFlags) registerAs(cmd *cobra.Command, addrHelp string) {
	cmd.Flags().StringVar(&a.addr, "admin", "127.0.0.1:7480", addrHelp)
	// Not the flag's default: --help prints defaults, and this one is a secret.
	cmd.Flags().StringVar(&a.token, "token", "", "admin token, if the node requires one (or $RINGEX_ADMIN_TOKEN, or the file $RINGEX_ADMIN_TOKEN_FILE names; "+
		"two set must give the same token; prefer them: a flag's value is in the command line every local user reads with ps)")
}

// newHaltCmd makes `ringex halt` and `ringex resume`.
func newHaltCmd(halt bool) *cobra.Command {
	var a adminFlags
	var cancelOrders bool
	use, short, path := "halt", "Halt an instrument: no new orders (cancels still work)", "/halt"
	long := `. The resting orders stay, unless --cancel-orders: then every
resting order of the instrument, of every account, is cancelled too
(reason instrument-halted, reported to each owner), clearing the book
until it is resumed.`
	example := "  ringex halt BTC-USD\n  ringex halt BTC-USD --cancel-orders\n  ringex halt 1 --admin 10.0.0.5:7480"
	if !halt {
		use, short, path = "resume", "Resume trading in a halted instrument", "/resume"
		long, example = ".", "  ringex resume BTC-USD\n  ringex resume 1 --admin 10.0.0.5:7480"
	}
	cmd := &cobra.Command{
		Use:   use + " INSTRUMENT",
		Short: short,
		Long: short + long + ` The command is journaled (and replicated) like any
input, so it holds across restarts; market-data subscribers see it as a
TradingStatus. INSTRUMENT is a symbol or an id, as the node's config has them.`,
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The node resolves the symbol by its own config.
			q := "?instrument=" + url.QueryEscape(args[0])
			if cancelOrders {
				q += "&cancel_orders=true"
			}
			return adminControl(a.addr, path+q, a.token, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	a.registerControl(cmd)
	if halt {
		cmd.Flags().BoolVar(&cancelOrders, "cancel-orders", false,
			"also cancel every resting order of the instrument, of every account (the book is cleared)")
	}
	return cmd
}

// newAccountCmd makes `ringex account suspend|resume`, the kill switch.
func newAccountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Suspend or resume an account (the operator's kill switch)",
		Example: "  ringex account suspend 4\n  ringex account resume 4"}
	for _, action := range []string{"suspend", "resume"} {
		var a adminFlags
		short := "Suspend an account: cancel all its live orders and refuse its new ones"
		if action == "resume" {
			short = "Lift an account's suspension"
		}
		sub := &cobra.Command{
			Use:   action + " ACCOUNT",
			Short: short,
			Long: short + `. Journaled and replicated like any input, so it
holds across restarts and failovers; the account's sessions stay logged on
and can still cancel and ask for order status. GET /state on the admin
port lists the suspended accounts.`,
			Example: fmt.Sprintf("  ringex account %s 4\n  ringex account %s 4 --admin 10.0.0.5:7480", action, action),
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := idArg("account", args[0], 32); err != nil {
					return err
				}
				if err := adminControl(a.addr, "/accounts/"+url.PathEscape(args[0])+"/"+action, a.token, cmd.OutOrStdout(), cmd.ErrOrStderr()); err != nil {
					return fmt.Errorf("account %s: %w", args[0], err)
				}
				return nil
			},
		}
		a.registerControl(sub)
		cmd.AddCommand(sub)
	}
	return cmd
}

// newSessionsCmd makes `ringex sessions` and `ringex sessions close`.
func newSessionsCmd() *cobra.Command {
	var a adminFlags
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List the trading sessions logged on to a node",
		Long: `Lists the node's live trading sessions, oldest first: session id, account,
kind (trading, or a read-only drop copy), the client's address, when it
logged on, and how many bytes of reports
wait unsent in its send buffer (a client that reads too slowly shows
here before it is disconnected); a session still logging on (its
LogonAck not sent yet) is marked "(logging on)". From GET /sessions on
the admin port.`,
		Example: "  ringex sessions\n  ringex sessions --admin 10.0.0.5:7480",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr, err := oneNode(a.addr)
			if err != nil {
				return fmt.Errorf("sessions: %w", err)
			}
			token, err := adminToken(a.token)
			if err != nil {
				return fmt.Errorf("sessions: %w", err)
			}
			var body bytes.Buffer
			if err := adminDo("GET", addr, "/sessions", token, &body); err != nil {
				return fmt.Errorf("sessions: %w", err)
			}
			sessions, err := sessionsAnswer(body.Bytes())
			if err != nil {
				return fmt.Errorf("sessions: %w", err)
			}
			writeSessions(cmd.OutOrStdout(), sessions)
			return nil
		},
	}
	a.register(cmd)
	var c adminFlags
	closeCmd := &cobra.Command{
		Use:   "close SESSION",
		Short: "Disconnect one trading session",
		Long: `Disconnects a live trading session (ids from ringex sessions): a stale or
misbehaving client. It ends like any disconnect — if it was its account's
last session and the account has cancel_on_disconnect, its resting orders
are cancelled — and is counted as ringex_disconnects_total{cause="operator"}
and logged as an "admin action". The client may log on again; to stop an
account trading, suspend it (ringex account suspend).`,
		Example: "  ringex sessions close 1796313595064636933",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := idArg("session", args[0], 64); err != nil {
				return err
			}
			addr, err := oneNode(c.addr)
			if err != nil {
				return fmt.Errorf("session %s: %w", args[0], err)
			}
			// Escaped: the node reads the id from one path segment. A
			// '/', '?', '#' or '%' in it unescaped made another request.
			token, err := adminToken(c.token)
			if err != nil {
				return fmt.Errorf("session %s: %w", args[0], err)
			}
			if err := adminPost(addr, "/sessions/"+url.PathEscape(args[0])+"/close", token, io.Discard); err != nil {
				return fmt.Errorf("session %s: %w", args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "close session %s: done\n", args[0])
			return nil
		},
	}
	c.register(closeCmd)
	cmd.AddCommand(closeCmd)
	return cmd
}

// sessionsAnswer reads the node's answer to GET /sessions: its live
// trading sessions, oldest first.
func sessionsAnswer(body []byte) ([]gateway.SessionInfo, error) {
	var list struct{ Sessions []gateway.SessionInfo }
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, err
	}
	return list.Sessions, nil
}

// writeSessions prints sessions as `ringex sessions` does: a header, a
// line for each session and their count.
func writeSessions(out io.Writer, sessions []gateway.SessionInfo) {
	fmt.Fprintf(out, "%-20s %7s  %-9s %-22s %-20s %s\n", "SESSION", "ACCOUNT", "KIND", "FROM", "SINCE (UTC)", "UNSENT")
	for _, s := range sessions {
		kind := "trading"
		if s.DropCopy {
			kind = "drop-copy"
		}
		line := fmt.Sprintf("%-20d %7d  %-9s %-22s %-20s %d", s.ID, s.Account, kind, shownWord(s.From), s.Since.UTC().Format(time.DateTime), s.Unsent)
		if s.LoggingOn {
			line += " (logging on)" // its LogonAck not queued yet: a close waits for it
		}
		fmt.Fprintln(out, line)
	}
	fmt.Fprintf(out, "%d session(s)\n", len(sessions))
}

// shownWord is s, a string an answer at --admin carried (a session's
// address, an instrument's symbol), as a line shows it: as it is when it
// is one word of printable ASCII, as a node sends it, else quoted (Go
// syntax, ASCII) — a newline in it printed a line of its own, one
// forging another session's in ringex sessions' table, a space another
// column, and a control sequence acted on the terminal.
func shownWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return strings.ReplaceAll(strconv.QuoteToASCII(s), " ", `\x20`)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// adminAddrs is the addresses of a comma-separated --admin list
// (addrList's).
func adminAddrs(addrs string) ([]string, error) {
	return addrList("--admin", addrs, "the node's admin address, or every cluster member's, comma-separated")
}

// addrList is the addresses of list, the comma-separated value of flag
// (--admin, --addr, --md-addr), each trimmed of spaces. A list with an
// empty one (two commas together, one at an end, or no address at all)
// is refused naming the flag and the entry, before anything is asked or
// dialled: the empty one was asked as "" — a status line or an error
// naming an address the operator never gave, a gateway dialled in vain
// each round. give says what to give when the list is empty.
func addrList(flag, list, give string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("%s is empty: give %s", flag, give)
	}
	addrs := strings.Split(list, ",")
	for i, addr := range addrs {
		if addrs[i] = strings.TrimSpace(addr); addrs[i] == "" {
			return nil, fmt.Errorf("%s %s: address %d of %d is empty (two commas together, or one at an end): give each address once, comma-separated", flag, list, i+1, len(addrs))
		}
	}
	return addrs, nil
}

// oneAddr is the one address of list, the value of flag, trimmed of
// spaces: an empty one is refused as addrList refuses it (give says what
// to give), and a list of several naming the flag and the list, then
// one, which says which one address to give and why.
func oneAddr(flag, list, give, one string) (string, error) {
	addrs, err := addrList(flag, list, give)
	if err != nil {
		return "", err
	}
	if len(addrs) > 1 {
		return "", fmt.Errorf("%s %s: %s", flag, list, one)
	}
	return addrs[0], nil
}

// oneNode is the one admin address of addr, refusing an empty one
// and a cluster's list (A,B,C) for a command whose answer is one node's
// own (oneAddr): the trading sessions are those logged on to that node,
// in a cluster its leader. The list made a URL that failed to parse
// ("invalid port … after host").
func oneNode(addr string) (string, error) {
	return oneAddr("--admin", addr, "the node's admin address",
		"give one node's admin address — in a cluster the leader's, which holds the trading sessions (ringex status --admin "+addr+" shows which member leads)")
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show the configuration",
		Example: "  ringex config print"}
	var path string
	var sets []string
	print := &cobra.Command{
		Use:     "print",
		Short:   "Print the effective configuration, secrets masked",
		Example: "  ringex config print\n  ringex config print --config ringex.yaml --set gateway.listen=:9400",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(path, sets)
			if err != nil {
				return err
			}
			return cfg.Print(cmd.OutOrStdout())
		},
	}
	print.Flags().StringVar(&path, "config", os.Getenv("RINGEX_CONFIG"), "YAML config file")
	print.Flags().StringArrayVar(&sets, "set", nil, "override one setting, key=value")
	cmd.AddCommand(print)
	return cmd
}

// idArg refuses arg unless it is a decimal id of bits bits (not 0), so
// that "..", a name or a typo is refused here, saying so, instead of
// becoming another path (".." was redirected: a 404, nothing done).
func idArg(what, arg string, bits int) error {
	if id, err := strconv.ParseUint(arg, 10, bits); err != nil || id == 0 {
		article := "a"
		if strings.ContainsRune("aeiou", rune(what[0])) {
			article = "an"
		}
		return fmt.Errorf("%s %q: not %s %s id (a number from 1)", what, arg, article, what)
	}
	return nil
}
