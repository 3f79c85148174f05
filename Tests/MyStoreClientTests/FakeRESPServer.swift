import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MyStoreClient
import ShardRouter

/// A scripted RESP server on 127.0.0.1 (port chosen by the OS), run by one thread polling
/// the listener and every connection. Each complete command is recorded and handed to the
/// script, whose ``Action`` says what to send back. `stop()` ends the thread and closes every
/// socket; the thread also stops on its own after `lifetime`, so a failed test cannot leak it.
final class FakeRESPServer: @unchecked Sendable {
    /// What the server does with one command.
    enum Action {
        /// Send these bytes.
        case reply(String)
        /// Send these pieces with a pause between them, so the client reads them separately.
        case replyInPieces([String])
        /// Close the connection without replying (a node dying mid-request).
        case close
        /// Send nothing (a node too slow to answer).
        case silent
    }

    /// The reply script: the command's parts as text and the index of the connection (0 for
    /// the first accepted, 1 for the next, ...).
    typealias Script = @Sendable (_ command: [String], _ connection: Int) -> Action

    let port: UInt16
    var node: NodeAddress { NodeAddress(host: "127.0.0.1", port: port)! }

    private let listener: Int32
    private let script: Script
    private let lock = NSLock()
    private var recorded: [[String]] = []
    private var recordedBytes: [UInt8] = []
    private var accepted = 0
    private var stopRequested = false
    private let finished = DispatchSemaphore(value: 0)

    init(lifetime: Duration = .seconds(20), script: @escaping Script) throws {
        self.script = script
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw FakeServerError("socket failed") }
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else {
            close(listener)
            throw FakeServerError("bind/listen failed")
        }
        self.listener = listener
        port = UInt16(bigEndian: address.sin_port)
        let deadline = ContinuousClock.now + lifetime
        Thread.detachNewThread { [self] in
            self.serve(until: deadline)
            self.finished.signal()
        }
    }

    /// Every command received so far, in order, as text.
    var commands: [[String]] { lock.withLock { recorded } }
    /// Every byte received so far, across connections.
    var bytes: [UInt8] { lock.withLock { recordedBytes } }
    /// How many connections were accepted.
    var connectionCount: Int { lock.withLock { accepted } }

    /// Stops the thread and closes every socket; returns once the thread has ended.
    func stop() {
        lock.withLock { stopRequested = true }
        finished.wait()
    }

    /// A port on which nothing listens, for connection-refused tests: a socket bound to it
    /// without listening holds it for the rest of the test process, so no other test can take
    /// it. It lies below the ephemeral range: a connect to a free ephemeral port can pick that
    /// same port as its own source and connect to itself (TCP simultaneous open).
    static func closedPort() throws -> UInt16 {
        for port in UInt16(12_900)..<12_990 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { break }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(port.bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if bound == 0 { return port }  // kept open on purpose
            close(fd)
        }
        throw FakeServerError("no free port in 12900-12989")
    }

    // MARK: - The server thread

    private func serve(until deadline: ContinuousClock.Instant) {
        var clients: [(fd: Int32, index: Int, parser: RESPParser)] = []
        defer {
            for client in clients { close(client.fd) }
            close(listener)
        }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline, !lock.withLock({ stopRequested }) {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
                + clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 20) > 0 else { continue }
            if fds[0].revents != 0 {
                let fd = accept(listener, nil, nil)
                if fd >= 0 {
                    let index = lock.withLock { accepted += 1; return accepted - 1 }
                    clients.append((fd, index, RESPParser()))
                }
            }
            var closed: Set<Int32> = []
            for position in 0..<(fds.count - 1) where fds[position + 1].revents != 0 {
                let fd = clients[position].fd
                let count = recv(fd, &chunk, chunk.count, 0)
                guard count > 0 else { closed.insert(fd); continue }
                lock.withLock { recordedBytes += chunk[0..<count] }
                clients[position].parser.append(chunk[0..<count])
                while let request = try? clients[position].parser.next() {
                    let parts = (request.elements ?? []).map { $0.text ?? "" }
                    lock.withLock { recorded.append(parts) }
                    if !perform(script(parts, clients[position].index), on: fd) {
                        closed.insert(fd)
                        break
                    }
                }
            }
            for fd in closed { close(fd) }
            clients.removeAll { closed.contains($0.fd) }
        }
    }

    /// Carries out an action; false when the connection is to be closed.
    private func perform(_ action: Action, on fd: Int32) -> Bool {
        switch action {
        case .reply(let text):
            write(text, to: fd)
        case .replyInPieces(let pieces):
            for (index, piece) in pieces.enumerated() {
                if index > 0 { usleep(30_000) }
                write(piece, to: fd)
            }
        case .close:
            return false
        case .silent:
            break
        }
        return true
    }

    private func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        _ = send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }
}

struct FakeServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// RESP reply builders for scripts.
enum Wire {
    static let ok = "+OK\r\n"
    static func bulk(_ text: String) -> String { "$\(text.utf8.count)\r\n\(text)\r\n" }
    static func integer(_ value: Int) -> String { ":\(value)\r\n" }
    static func array(_ items: [String]) -> String { "*\(items.count)\r\n" + items.joined() }

    /// A `CLUSTER SLOTS` reply giving each range to one node.
    static func clusterSlots(_ ranges: [(Int, Int, NodeAddress)]) -> String {
        array(ranges.map { first, last, node in
            array([integer(first), integer(last), array([bulk(node.host), integer(Int(node.port)), bulk("id-\(node.port)")])])
        })
    }
}

/// Keys whose slots fall in `range`, found by counting up (bounded: a few hundred tries).
func key(inSlots range: ClosedRange<Int>, avoiding used: [String] = []) -> String {
    for number in 0..<100_000 {
        let key = "key\(number)"
        if range.contains(Slot(forKey: key).rawValue), !used.contains(key) { return key }
    }
    return "unreachable"
}

extension Array where Element == String {
    /// The command as bytes, for the client API.
    var bytes: [[UInt8]] { map { [UInt8]($0.utf8) } }
}

/// A value set after a server starts and read by scripts (a server's own address, say).
final class SharedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
