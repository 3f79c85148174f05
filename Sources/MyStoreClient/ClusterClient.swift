#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import ShardRouter

/// A cluster-aware MyStore client. It caches the slot map (`CLUSTER SLOTS`), sends each
/// command to the node serving its key's slot (or to any node while the map is unknown:
/// every node forwards to the shard's leader), follows `-MOVED` and `-ASK`, keeps one
/// connection per node, and retries transient failures with bounded backoff. Writes go
/// through an exactly-once ``WriteSession``: a retried write re-sends the same sequence, so
/// even a write answered `-UNCERTAIN` (outcome unknown) is retried safely.
///
/// Blocking and not thread-safe: use one client per thread (each has its own session).
public final class ClusterClient {
    /// The knobs in force.
    public let settings: ClusterSettings
    /// The nodes the client was started with; asked for the slot map when others fail.
    public let seeds: [NodeAddress]
    /// The cached slot map; nil until fetched, or when the cluster does not report one.
    public private(set) var slotMap: SlotMap?

    private(set) var session: WriteSession
    private var connections: [NodeAddress: RESPConnection] = [:]
    /// Whether the map should be fetched again before the next keyed request.
    private var mapIsStale = true
    /// Rotates the node picked when no map says where to go, past nodes that failed.
    private var fallbackCursor = 0
    private var random = SystemRandomNumberGenerator()
    /// Redirects followed, retries and reconnects are logged here at debug level (the
    /// program's swift-log bootstrap decides where they go).
    public var logger = Logger(label: "mystore.client")

    /// A client that learns the cluster from `seeds` (at least one).
    public init(seeds: [NodeAddress], settings: ClusterSettings = ClusterSettings()) throws(ClientError) {
        guard !seeds.isEmpty else { throw .noEndpoints }
        self.seeds = seeds
        self.settings = settings
        self.session = settings.clientID.map(WriteSession.init(clientID:)) ?? WriteSession()
    }

    /// A client seeded with every node of a membership file.
    public convenience init(membership: Membership, settings: ClusterSettings = ClusterSettings()) throws(ClientError) {
        try self.init(seeds: membership.nodes, settings: settings)
    }

    /// This client's exactly-once session id.
    public var clientID: UInt64 { session.clientID }

    /// Closes every connection; the client reconnects on its next request.
    public func close() {
        for connection in connections.values { connection.close() }
        connections.removeAll()
    }

    /// Sends any command (name first) and returns its reply. Writes are wrapped in
    /// `MYSTORE.EXEC`; redirects and transient errors are handled; other error replies are
    /// returned as ``RESPReply/error(_:)``.
    public func command(_ command: [[UInt8]]) throws(ClientError) -> RESPReply {
        guard !command.isEmpty else { throw .invalidArgument("empty command") }
        let traits = CommandTraits(of: command)
        let wire = traits.isWrite ? session.wrap(command) : command
        return try execute(wire, slot: traits.slot(of: command), node: nil)
    }

    /// Sends a read-only or keyless command to one particular node (no routing, no session).
    public func command(_ command: [[UInt8]], on node: NodeAddress) throws(ClientError) -> RESPReply {
        guard !command.isEmpty else { throw .invalidArgument("empty command") }
        return try execute(command, slot: nil, node: node)
    }

    /// Fetches the slot map from the first node that gives one: known map nodes, then seeds.
    public func refreshSlotMap() throws(ClientError) {
        try refreshSlotMap(preferring: nil, deadline: .now + settings.retry.budget)
    }

    // MARK: - Routing and retries

    /// Sends `wire` (already wrapped if it is a write) to `node`, or to the owner of `slot`,
    /// until it gets a final reply or the retry policy gives up.
    func execute(_ wire: [[UInt8]], slot: Slot?, node fixedNode: NodeAddress?) throws(ClientError) -> RESPReply {
        let started = ContinuousClock.now
        let deadline = started + settings.retry.budget
        var attempts = 0
        var redirects = 0
        var redirect: Redirect?
        var failedNodes: Set<NodeAddress> = []
        var refreshed = false

        while true {
            if slot != nil, mapIsStale, !refreshed {
                refreshed = true  // at most one map fetch per request
                try? refreshSlotMap(preferring: redirect?.node, deadline: deadline)
            }
            let node = fixedNode ?? redirect?.node ?? route(slot, avoiding: failedNodes)
            var failure: ClientError
            do throws(ClientError) {
                let reply = try exchange(wire, with: node, asking: redirect.map { if case .ask = $0 { true } else { false } } ?? false, deadline: deadline)
                redirect = nil
                guard let message = reply.errorMessage else { return reply }
                if let next = Redirect(errorMessage: message), fixedNode == nil {
                    redirects += 1
                    guard redirects <= settings.maxRedirects else { throw ClientError.tooManyRedirects(count: redirects - 1, last: message) }
                    if case .moved(let movedSlot, let target) = next {
                        slotMap?.assign(movedSlot, to: target)
                        mapIsStale = true
                        refreshed = false
                    }
                    logger.debug("following \(message)")
                    redirect = next
                    continue
                }
                // An unknown outcome is retried only for a write under the session: the retry
                // re-sends its sequence, so the write applies once and the first result returns.
                let sessionWrite = wire.first == WriteSession.execCommand
                let retriable = ClientError.isTransientServerError(message) || (sessionWrite && ClientError.isOutcomeUnknown(message))
                guard retriable && !ClientError.isStaleRetry(message) else { return reply }
                failure = .serverError(node, message: message)
            } catch {
                guard error.isTransient else { throw error }
                drop(node)
                failedNodes.insert(node)
                if fixedNode == nil { mapIsStale = true }
                redirect = nil
                failure = error
            }

            attempts += 1
            let remaining = deadline - .now
            guard (attempts < settings.retry.maxAttempts) && (remaining > .zero) else {
                throw ClientError.retriesExhausted(attempts: attempts, elapsedSeconds: (ContinuousClock.now - started).seconds, last: failure)
            }
            logger.debug("retrying after attempt \(attempts) on \(node): \(failure)")
            pause(min(settings.retry.backoff(afterAttempt: attempts, using: &random), remaining))
        }
    }

    /// One try on one node: its connection (opened if needed), then the request (after
    /// `ASKING` when following an `-ASK`).
    private func exchange(_ wire: [[UInt8]], with node: NodeAddress, asking: Bool, deadline: ContinuousClock.Instant) throws(ClientError) -> RESPReply {
        let connection = try connection(to: node, deadline: deadline)
        do {
            guard asking else { return try connection.send(wire, budget: deadline - .now) }
            let replies = try connection.pipeline([[Array("ASKING".utf8)], wire], budget: deadline - .now)
            return replies[replies.count - 1]
        } catch {
            if !connection.isOpen { connections[node] = nil }
            throw error
        }
    }

    /// The node for a request: the slot's owner unless it just failed, else any other node.
    private func route(_ slot: Slot?, avoiding failed: Set<NodeAddress>) -> NodeAddress {
        if let slot, let owner = slotMap?.owner(of: slot), !failed.contains(owner) { return owner }
        var candidates = seeds
        for node in slotMap?.nodes ?? [] where !candidates.contains(node) { candidates.append(node) }
        for offset in 0..<candidates.count {
            let node = candidates[(fallbackCursor + offset) % candidates.count]
            if !failed.contains(node) {
                fallbackCursor = (fallbackCursor + offset) % candidates.count
                return node
            }
        }
        // Every node failed once: start over from the next one.
        fallbackCursor = (fallbackCursor + 1) % candidates.count
        return candidates[fallbackCursor]
    }

    private func connection(to node: NodeAddress, deadline: ContinuousClock.Instant) throws(ClientError) -> RESPConnection {
        if let open = connections[node], open.isOpen { return open }
        let connection = try RESPConnection(to: node, settings: settings.connection, budget: deadline - .now)
        connections[node] = connection
        return connection
    }

    private func drop(_ node: NodeAddress) {
        connections.removeValue(forKey: node)?.close()
    }

    /// Fetches `CLUSTER SLOTS`, trying `preferred` first, then map nodes, then seeds. An error
    /// reply or an empty map means the cluster routes server-side: the map becomes nil and
    /// requests go to any node. Throws the last connection error when no node answers.
    private func refreshSlotMap(preferring preferred: NodeAddress?, deadline: ContinuousClock.Instant) throws(ClientError) {
        var candidates: [NodeAddress] = preferred.map { [$0] } ?? []
        for node in (slotMap?.nodes ?? []) + seeds where !candidates.contains(node) { candidates.append(node) }
        var lastError = ClientError.noEndpoints
        for node in candidates where deadline > .now {
            do throws(ClientError) {
                let reply = try exchange(ClusterCommands.slots, with: node, asking: false, deadline: deadline)
                if reply.errorMessage != nil {
                    slotMap = nil
                } else {
                    let map = try SlotMap(clusterSlots: reply, answeredBy: node)
                    slotMap = map.isEmpty ? nil : map
                }
                mapIsStale = false
                return
            } catch {
                if error.breaksConnection || error.isTransient { drop(node) }
                lastError = error
            }
        }
        throw lastError
    }

    private func pause(_ duration: Duration) {
        guard duration > .zero else { return }
        let components = duration.components
        var request = timespec(tv_sec: Int(components.seconds), tv_nsec: Int(components.attoseconds / 1_000_000_000))
        var left = timespec()
        while nanosleep(&request, &left) != 0, errno == EINTR { request = left }
    }
}

/// The cluster introspection commands the client sends.
enum ClusterCommands {
    static let slots: [[UInt8]] = [Array("CLUSTER".utf8), Array("SLOTS".utf8)]
    static let shards: [[UInt8]] = [Array("CLUSTER".utf8), Array("SHARDS".utf8)]
}
