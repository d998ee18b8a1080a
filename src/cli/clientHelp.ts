/** The `socketchart [<url>]` help text (`--help`), kept apart so client.ts reads as the client. */

export const CLIENT_HELP = `Usage: socketchart [<url>] [options]
       socketchart connect [<url>] [options]

Talks to a WebSocket server through a socketchart connection: it reconnects with backoff, queues what you type
while it is not open, and shows the statechart live. Typed lines are sent; received messages are printed.
Ctrl-C (or Ctrl-D) closes the connection with code 1000 and exits 0.

Without <url> it starts a local echo server on 127.0.0.1 and connects to that: every line comes back.

Interactive (stdin and stdout are terminals): a status line at the bottom shows a green/yellow/red indicator, the
state path (connecting.opening, open, reconnecting.backoff, closed...), the retry number and the time until it
while reconnecting, uptime, messages in/out and the heartbeat round-trip time (RTT).

Otherwise (pipes, files, CI): one line of stdin is one message (blank lines are skipped), each received message is
one line of stdout, and the transitions are logged to stderr as plain lines. It exits 0 when stdin ends and, with
the echo server, every line has come back (resent after a reconnect if its echo was lost) and --chaos has shown
each fault once, or, with a <url>, once
nothing has arrived for --drain ms. It exits 1 if the connection ends for good (a fatal close code, refused
auth, --retries used up) or, with --json, if a line was not valid JSON.

Options:
  -p, --protocol <name>    offer this subprotocol in the handshake (repeatable)
  -H, --header <header>    send a handshake header, 'Name: value' (repeatable)
      --auth-token-file <path>
                           authenticate each attempt with the token in this file: as the header
                           'Authorization: Bearer <token>', or with --auth-in query as ?token=<token>;
                           close codes 1008/4001 mean "token refused" (retried once, then exit 1).
                           Trailing line breaks are removed. A regular file is read again before every
                           attempt (a rotated token is used from the next reconnect on); a pipe, such as
                           <(pass show ws-token), is read once. Unreadable, empty or over 64 KiB: exit 2
      --auth-token <token> the same with the token itself: other users of this machine can read it in the
                           process list (ps), so it prints a warning; prefer --auth-token-file or
                           $SOCKETCHART_AUTH_TOKEN
      --auth-in <where>    header (the default) or query
      --heartbeat <ms>     ping (RFC 6455 ping frames) every <ms>; a pong must come within min(<ms>, 5000) ms
                           or the connection is replaced. Default: every 10000 ms (1000 with the echo server)
      --no-heartbeat       no pings (and no RTT)
      --json               JSON messages: typed lines must be valid JSON (others are refused with the parse
                           error and not sent); received messages are pretty-printed
      --retries <n>        retries after a failed attempt before giving up (exit 1): --retries 2 makes at
                           most 3 attempts in a row, --retries 0 only one (default: retry forever)
      --drain <ms>         with a <url>, when stdin is not a terminal: after stdin ends, wait until nothing has
                           arrived for <ms> before closing (default 1000)
      --inspect            serve the live statechart view of this connection (the inspector: the chart with
                           the active state highlighted, and the event log) on http://127.0.0.1:<port>/;
                           the URL is printed
      --chaos              (echo server only) inject faults at random: the server drops every connection,
                           refuses handshakes with HTTP 503, restarts (stops listening for a while), or
                           blackholes traffic; each fault is printed as it happens. Without a terminal
                           (pipes, CI) each fault is injected once, in that order, and the run ends after
                           the last one healed (and stdin ended)
      --chaos-interval <ms> mean time from the connection being open (again) to the next fault (default 5000;
                           2000 without a terminal)
      --chaos-faults <list> the faults to choose from, comma-separated (default: drop,refuse,restart,blackhole)
  -h, --help               show this help

Environment:
  SOCKETCHART_AUTH_TOKEN   the auth token (as --auth-token, without showing it in ps), used when neither
                           --auth-token-file nor --auth-token is given; set but empty: exit 2

Examples:
  socketchart                              local echo server: type, see it come back
  socketchart --chaos                      the same, while the server misbehaves
  socketchart wss://echo.example/ws -p chat.v1 -H 'X-Trace: 1' --auth-token-file ~/.config/ws-token
  printf 'a\\nb\\n' | socketchart          sends a and b to the echo server, prints them back, exits 0
  socketchart ws://127.0.0.1:8080 --json < requests.jsonl > replies.json
`;
