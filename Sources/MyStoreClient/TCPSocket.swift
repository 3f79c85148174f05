#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ShardRouter

/// A non-blocking TCP socket whose every wait is bounded by a deadline (via `poll`), so
/// connect, send and receive each time out cleanly. Errors name the node.
public final class TCPSocket {
    public typealias Instant = ContinuousClock.Instant

    public let node: NodeAddress
    private let fd: Int32

    /// Connects to `node`, trying each resolved address in turn, within `timeout`.
    public init(connectingTo node: NodeAddress, timeout: Duration) throws(ClientError) {
        self.fd = try Self.connectedDescriptor(to: node, timeout: timeout)
        self.node = node
    }

    /// A connected socket to `node` (non-blocking, TCP_NODELAY, close-on-exec) that the caller
    /// owns and closes: for callers that drive many sockets themselves (the load generator).
    /// Tries each resolved address in turn, within `timeout`.
    public static func connectedDescriptor(to node: NodeAddress, timeout: Duration) throws(ClientError) -> Int32 {
        let deadline = Instant.now + timeout
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(node.host, String(node.port), &hints, &list)
        guard status == 0, let first = list else {
            throw .cannotResolve(host: node.host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        var lastError = ClientError.connectFailed(node, reason: "no address")
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            do {
                return try connect(info.pointee, node: node, deadline: deadline, timeout: timeout)
            } catch {
                lastError = error
                if case .timeout = error { break }  // the deadline is spent; no time for the others
            }
        }
        throw lastError
    }

    deinit { close(fd) }

    /// Writes all of `bytes`, waiting for buffer space until `deadline`.
    public func send(_ bytes: [UInt8], deadline: Instant, timeout: Duration) throws(ClientError) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count > 0 {
                sent += count
            } else if count < 0, errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLOUT), until: deadline, step: .send, timeout: timeout)
            } else if count < 0, errno == EINTR {
                continue
            } else {
                throw .ioFailed(node, reason: Self.systemError())
            }
        }
    }

    /// Reads whatever has arrived (at least one byte) into `chunk`, waiting until `deadline`.
    /// Returns the number of bytes read.
    public func receive(into chunk: inout [UInt8], deadline: Instant, timeout: Duration) throws(ClientError) -> Int {
        while true {
            let count = chunk.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress!, raw.count, 0) }
            if count > 0 { return count }
            if count == 0 { throw .connectionClosed(node) }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                try wait(for: Int16(POLLIN), until: deadline, step: .reply, timeout: timeout)
            } else if errno != EINTR {
                throw .ioFailed(node, reason: Self.systemError())
            }
        }
    }

    // MARK: - Private

    private static func connect(_ info: addrinfo, node: NodeAddress, deadline: Instant, timeout: Duration) throws(ClientError) -> Int32 {
        let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard fd >= 0 else { throw .connectFailed(node, reason: systemError()) }
        var keep = false
        defer { if !keep { close(fd) } }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var one: Int32 = 1
        // Requests are small and latency-bound: do not let Nagle hold them back.
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS || errno == EINTR else { throw failure(errno, node: node) }
            var pollFD = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let remaining = deadline - .now
            let ready = remaining > .zero ? poll(&pollFD, 1, milliseconds(remaining)) : 0
            guard ready > 0 else {
                throw .timeout(node, step: .connect, seconds: timeout.seconds)
            }
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length)
            guard socketError == 0 else { throw failure(socketError, node: node) }
        }
        keep = true
        return fd
    }

    private func wait(for events: Int16, until deadline: Instant, step: ClientError.IOStep, timeout: Duration) throws(ClientError) {
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { throw .timeout(node, step: step, seconds: timeout.seconds) }
            var pollFD = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&pollFD, 1, Self.milliseconds(remaining))
            if ready > 0 { return }  // readable, writable, or an error the next call reports
            if ready < 0, errno != EINTR { throw .ioFailed(node, reason: Self.systemError()) }
        }
    }

    private static func failure(_ code: Int32, node: NodeAddress) -> ClientError {
        code == ECONNREFUSED ? .connectionRefused(node) : .connectFailed(node, reason: String(cString: strerror(code)))
    }

    /// `poll`'s timeout: whole milliseconds, rounded up so a short wait is not zero.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        Int32(min(Double(Int32.max), (duration.seconds * 1000).rounded(.up)))
    }

    private static func systemError() -> String { String(cString: strerror(errno)) }
}
