import ShardRouter

/// Why a request failed, with a message a user can act on.
public indirect enum ClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The host name did not resolve.
    case cannotResolve(host: String, reason: String)
    /// Nothing listens on the node's port (or a firewall rejects the connection).
    case connectionRefused(NodeAddress)
    /// Connecting failed for another reason (unreachable network, ...).
    case connectFailed(NodeAddress, reason: String)
    /// A step took longer than its bound.
    case timeout(NodeAddress, step: IOStep, seconds: Double)
    /// The node closed the connection before the whole reply arrived.
    case connectionClosed(NodeAddress)
    /// Sending or receiving failed (connection reset, ...).
    case ioFailed(NodeAddress, reason: String)
    /// The node sent bytes that are not RESP2; `offset` counts bytes from the connection's start.
    case protocolError(NodeAddress, offset: Int, reason: String)
    /// The node answered with an error reply to a typed helper (`-ERR ...`).
    case serverError(NodeAddress?, message: String)
    /// The reply had a valid encoding but not the shape the command promises.
    case unexpectedReply(command: String, reply: String)
    /// More `-MOVED`/`-ASK` redirects in one request than the settings allow.
    case tooManyRedirects(count: Int, last: String)
    /// Every attempt failed with a transient error; `last` is the final one.
    case retriesExhausted(attempts: Int, elapsedSeconds: Double, last: ClientError)
    /// The caller passed arguments the command cannot take.
    case invalidArgument(String)
    /// A cluster client needs at least one seed endpoint.
    case noEndpoints

    /// A step of a network exchange, named in timeout messages.
    public enum IOStep: String, Hashable, Sendable {
        case connect = "connecting to"
        case send = "sending to"
        case reply = "waiting for a reply from"
    }

    /// Whether trying again (possibly on another node) may succeed: connection failures and
    /// timeouts. A server's own transient errors (`-TRYAGAIN`...) are recognised separately.
    public var isTransient: Bool {
        switch self {
        case .cannotResolve, .connectionRefused, .connectFailed, .timeout, .connectionClosed, .ioFailed: true
        case .serverError(_, let message): ClientError.isTransientServerError(message)
        default: false
        }
    }

    /// Whether the connection the error came from is unusable afterwards (its state is unknown).
    var breaksConnection: Bool {
        switch self {
        case .timeout, .connectionClosed, .ioFailed, .protocolError: true
        default: false
        }
    }

    /// Server errors that mean "not now" rather than "never": the cluster is electing,
    /// moving a slot or loading a snapshot.
    public static func isTransientServerError(_ message: String) -> Bool {
        let code = message.prefix { $0 != " " }
        return code == "TRYAGAIN" || code == "CLUSTERDOWN" || code == "LOADING"
    }

    /// Whether an error reply says the write's outcome is unknown (`-UNCERTAIN`): it may or
    /// may not have been applied. Only a write sent under a session may be retried then.
    public static func isOutcomeUnknown(_ message: String) -> Bool {
        message.prefix { $0 != " " } == "UNCERTAIN"
    }

    /// Whether an error reply says a session retry came too late to be told apart from a new
    /// request (`-UNCERTAIN stale request ...`): retrying it again cannot help.
    static func isStaleRetry(_ message: String) -> Bool {
        message.hasPrefix("UNCERTAIN stale request")
    }

    public var description: String {
        switch self {
        case .cannotResolve(let host, let reason): "cannot resolve \(host): \(reason)"
        case .connectionRefused(let node): "connection refused to \(node)"
        case .connectFailed(let node, let reason): "cannot connect to \(node): \(reason)"
        case .timeout(let node, let step, let seconds): "timeout after \(Self.format(seconds)) s \(step.rawValue) \(node)"
        case .connectionClosed(let node): "connection closed by \(node) before the reply was complete"
        case .ioFailed(let node, let reason): "connection to \(node) failed: \(reason)"
        case .protocolError(let node, let offset, let reason): "protocol error at byte \(offset) from \(node): \(reason)"
        case .serverError(let node?, let message): "\(node) answered: \(message)"
        case .serverError(nil, let message): "server answered: \(message)"
        case .unexpectedReply(let command, let reply): "unexpected reply to \(command): \(reply)"
        case .tooManyRedirects(let count, let last): "gave up after \(count) redirects (last: \(last))"
        case .retriesExhausted(1, _, let last):
            last.description
        case .retriesExhausted(let attempts, let elapsed, let last):
            "gave up after \(attempts) attempts in \(Self.format(elapsed)) s: \(last)"
        case .invalidArgument(let message): message
        case .noEndpoints: "no endpoints to connect to (give a membership file or at least one host:port)"
        }
    }

    /// Seconds as `2` or `0.25`: whole numbers without a fraction, others to 3 decimals.
    static func format(_ seconds: Double) -> String {
        if seconds == seconds.rounded() { return String(Int(seconds)) }
        let millis = Int((seconds * 1000).rounded())
        var fraction = String(millis % 1000)
        while fraction.count < 3 { fraction = "0" + fraction }
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if fraction.isEmpty { return String(millis / 1000) }
        return "\(millis / 1000).\(fraction)"
    }
}
