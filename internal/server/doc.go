// Package server owns the Kafka listeners and the per-connection loops. It
// knows the framing (package protocol) and a one-method Handler; it knows
// nothing about what requests mean.
//
// # Goroutines
//
// Run owns the accept loop. Each connection has one reader goroutine (reads
// frames, calls Handler.Handle in request order) and one writer goroutine
// (writes responses in request order, waiting for deferred ones). Both stop
// when the connection closes or Run's context is cancelled; the writer
// cancels the connection's context when it gives up on the socket, which
// also wakes a reader waiting for request memory. Run returns only after
// every connection goroutine has exited.
//
// # Responses
//
// A Response is either a kmsg message, which the writer encodes into a
// reused buffer, or a Body the handler encoded itself as pieces: byte
// slices and sections of files. The fetch path uses the latter so that
// record data is never copied into user space: on a plain TCP connection
// (Linux), byte pieces go through the connection's bufio.Writer, which is
// flushed before each file section, and a section is sent with sendfile(2)
// at an explicit offset.
//
// NB: net.TCPConn.ReadFrom is not used for that. In Go 1.26 its sendfile
// path accepts only an *io.LimitedReader (or a bare file) over a
// syscall.Conn and sends from the file's shared offset, which it also
// advances (an *io.SectionReader falls back to a user-space copy). Segment
// files are read by many fetches at once, so the shared offset cannot be
// used; sendfile_linux.go calls sendfile with its own offset, through the
// file's and the socket's syscall.RawConn.
//
// Where sendfile is not available (Config.DisableSendfile, a connection
// that is not a *net.TCPConn such as a TLS one, other systems,
// or a kernel that refuses it for a file), a section is read with pread
// straight into the free space of the connection's write buffer. Small
// sections (below sendfileMinBytes) take that path too: a flush plus a
// sendfile costs more than copying a few kilobytes.
//
// A section that turns out shorter than promised (its segment was truncated
// meanwhile) or unreadable leaves the response half-written, so the
// connection is closed, as Kafka does.
//
// # Listeners and TLS
//
// A Server is one listener: Config.Listener and Config.SecurityProtocol
// are copied into every Conn, so handlers know which listener a client
// came in on (Metadata answers with that listener's endpoints) and whether
// it must authenticate with SASL (Config.SASL, enforced by the Handler).
// With Config.TLS the connection goroutine first runs the TLS handshake,
// bounded by Config.HandshakeTimeout (a client that stalls mid-handshake
// is closed, not kept for the idle timeout); a handshake that fails closes
// the connection. On an SSL listener a verified client certificate's
// subject, mapped by Config.TLSPrincipal, becomes the principal. TLS
// connections write file sections through the buffered path: sendfile
// cannot encrypt. The write buffer is the connection's own, reused for
// every response, so the cost over plaintext is the copy and the cipher.
// # Throttling (quotas)
//
// A Response with Throttle set is written at once with its
// throttle_time_ms raised to the throttle (KIP-219); then the connection
// is muted: the reader handles no further request until the throttle time
// has passed (it waits on a timer itself, so unread requests stay in the
// socket and the client sees backpressure). Requests the client pipelined
// behind a throttled one also wait while its response is not yet written
// (a produce waiting for acks): the throttle counts from the response, as
// on a Kafka channel, which reads nothing while it serves a request. A response-less request
// (acks=0) mutes the connection at once. Config.AcceptThrottle refuses new
// connections over a connection_creation_rate quota: they are held unread
// and closed when their throttle time ends, as Kafka's acceptor does.
//
// # Request memory
//
// Config.QueuedMaxRequestBytes (Kafka's queued.max.request.bytes) bounds
// the bytes of requests that have been read and not yet answered, over all
// connections. A reader acquires a frame's size after reading its 4-byte
// length and before reading its body; while the budget is exhausted the
// reader does not read its socket, so the client sees TCP backpressure. The
// bytes are released when the request's response has been written (at
// once for a request without a response, such as an acks=0 produce; at
// connection close for responses never written). Waiters are served in
// arrival order, so a large frame is not starved by small ones.
//
//   - A frame larger than the whole budget is admitted once nothing else is
//     held (it then waits at the head of the queue); refusing it would
//     break clients whose requests socket.request.max.bytes allows.
//   - A frame of at most exemptFrameBytes on a connection that holds none
//     of the budget is admitted at once, over the limit if need be. This
//     keeps the budget free of circular waits: deferred responses hold
//     their bytes until written, and some of them wait for other requests
//     (an acks=all produce for the followers' fetches, a JoinGroup for the
//     other members' JoinGroups). Those requests come from connections with
//     nothing in flight and are small, so they always get in. The excess is
//     at most one such frame per connection, less than the connection's
//     own read and write buffers.
//   - A connection cannot deadlock on its own pipelined requests: the
//     writer releases bytes as it writes, independently of the reader, and
//     every deferred response ends by its own timeout (fetch max wait,
//     produce timeout, rebalance timeout) or the connection's context.
//
// NB: Kafka releases a request's pool memory once its handler returns (or,
// for requests without byte fields, once parsed), not when the response is
// sent; a deferred acks=all produce holds nothing there. Here it holds its
// frame until answered, which bounds the memory of waiting produces too.
//
// Request frames come from a pool of size classes. A frame goes back to the
// pool only if the Handler implements FrameReuser and says so for the
// request, and only after the request's final response has been written:
// kmsg-decoded requests alias the frame (record bytes are sub-slices of
// it), so a frame the handler might still hold is left to the garbage
// collector.
package server
