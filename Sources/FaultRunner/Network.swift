import Foundation

/// The test network: one Linux network namespace per node, each with a veth to a bridge in the
/// root namespace that holds the runner's address. Partitions are iptables DROP rules inside the
/// nodes' namespaces (the runner's own address is never cut, so clients keep reaching every node,
/// including a deposed leader). Everything is named after `tag`, so a crashed run can be cleaned
/// up by name (scripts/fault-test does that in its trap).
final class TestNetwork: @unchecked Sendable {
    let tag: String
    let subnet: String
    let count: Int
    private(set) var created = false

    init(tag: String, subnet: String, nodes: Int) {
        self.tag = tag
        self.subnet = subnet
        self.count = nodes
    }

    var bridge: String { "\(tag)br" }
    var runnerAddress: String { "\(subnet).1" }
    func namespace(_ i: Int) -> String { "\(tag)n\(i)" }
    func address(_ i: Int) -> String { "\(subnet).\(11 + i)" }

    /// Whether namespaces can be made here (root, `ip netns` and iptables present).
    static func available() -> String? {
        guard getuid() == 0 else { return "not root" }
        guard which("ip") != nil else { return "no `ip` command" }
        guard which("iptables") != nil else { return "no `iptables` command (Debian: apt-get install iptables)" }
        let probe = "mfprobe\(getpid() % 100000)"
        guard (try? run(["ip", "netns", "add", probe])) != nil else { return "`ip netns add` failed" }
        defer { _ = try? run(["ip", "netns", "del", probe], check: false) }
        guard (try? run(["ip", "netns", "exec", probe, "iptables", "-L", "-n"])) != nil else { return "iptables does not work in a namespace" }
        return nil
    }

    func setUp() throws {
        created = true
        try run(["ip", "link", "add", bridge, "type", "bridge"])
        try run(["ip", "addr", "add", "\(runnerAddress)/24", "dev", bridge])
        try run(["ip", "link", "set", bridge, "up"])
        for i in 0..<count {
            let ns = namespace(i), host = "\(tag)h\(i)", peer = "\(tag)p\(i)"
            try run(["ip", "netns", "add", ns])
            try run(["ip", "link", "add", host, "type", "veth", "peer", "name", peer])
            try run(["ip", "link", "set", peer, "netns", ns])
            try run(["ip", "link", "set", host, "master", bridge])
            try run(["ip", "link", "set", host, "up"])
            try run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"])
            try run(["ip", "netns", "exec", ns, "ip", "addr", "add", "\(address(i))/24", "dev", peer])
            try run(["ip", "netns", "exec", ns, "ip", "link", "set", peer, "up"])
        }
    }

    /// Cuts traffic between node groups `a` and `b` in both directions.
    func cut(_ a: [Int], from b: [Int]) throws {
        for x in a {
            for y in b where x != y {
                try drop(in: x, peer: y)
                try drop(in: y, peer: x)
            }
        }
    }

    private func drop(in node: Int, peer: Int) throws {
        try run(["ip", "netns", "exec", namespace(node), "iptables", "-A", "INPUT", "-s", address(peer), "-j", "DROP"])
        try run(["ip", "netns", "exec", namespace(node), "iptables", "-A", "OUTPUT", "-d", address(peer), "-j", "DROP"])
    }

    /// Removes every partition rule.
    func heal() {
        for i in 0..<count {
            _ = try? run(["ip", "netns", "exec", namespace(i), "iptables", "-F"], check: false)
        }
    }

    /// Deletes the namespaces (and with them the veths) and the bridge. Safe to call twice.
    func tearDown() {
        guard created else { return }
        for i in 0..<count {
            _ = try? run(["ip", "netns", "del", namespace(i)], check: false)
        }
        _ = try? run(["ip", "link", "del", bridge], check: false)
        created = false
    }
}
