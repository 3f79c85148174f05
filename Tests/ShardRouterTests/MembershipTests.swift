import Testing
@testable import ShardRouter

@Suite("NodeAddress and Membership parsing")
struct MembershipTests {
    @Test func parsesAddresses() throws {
        let address = try NodeAddress(parsing: "127.0.0.1:7001")
        #expect(address.host == "127.0.0.1")
        #expect(address.port == 7001)
        #expect(address.description == "127.0.0.1:7001")
        #expect(address.pathComponent == "127.0.0.1_7001")
        let v6 = try NodeAddress(parsing: "[::1]:7002")
        #expect(v6.host == "::1")
        #expect(v6.description == "[::1]:7002")
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:", ":7001", "127.0.0.1:abc", "127.0.0.1:0", "127.0.0.1:65536",
                      "127.0.0.1:+80", "::1:7001", "a b:1", "host:999999", "[node-a]:1", "[::1:7001", "-a:1",
                      ".a:1", "a/b:1", "a@b:1", "[]:1", "[::1%]:1", "ü.example:1"])
    func rejectsBadAddresses(text: String) {
        #expect(throws: NodeAddressError(text: text)) { try NodeAddress(parsing: text) }
    }

    @Test func parsesNamesAndIPv6() throws {
        let name = try NodeAddress(parsing: "mystore-0.mystore.default.svc.cluster.local:7001")
        #expect(name.host == "mystore-0.mystore.default.svc.cluster.local")
        #expect(name.description == "mystore-0.mystore.default.svc.cluster.local:7001")
        #expect(name.endpoint == name.description)
        #expect(!name.isIPv6)
        #expect(name.isHostName)
        #expect(try !NodeAddress(parsing: "127.0.0.1:1").isHostName)
        #expect(try !NodeAddress(parsing: "[::1]:1").isHostName)
        #expect(try NodeAddress(parsing: "1.2.3.4.5:1").isHostName)
        let v6 = try NodeAddress(parsing: "[fe80::1%eth0]:7001")
        #expect(v6.host == "fe80::1%eth0")
        #expect(v6.isIPv6)
        #expect(try NodeAddress(parsing: "[::ffff:127.0.0.1]:1").host == "::ffff:127.0.0.1")
    }

    /// Redis writes an IPv6 host bare in `-MOVED slot host:port`; the port follows the last colon.
    @Test func parsesRedirectEndpoints() throws {
        let v6 = try NodeAddress(parsing: "[::1]:7002")
        #expect(v6.endpoint == "::1:7002")
        #expect(try NodeAddress(parsingEndpoint: "::1:7002") == v6)
        #expect(try NodeAddress(parsingEndpoint: "[::1]:7002") == v6)
        #expect(try NodeAddress(parsingEndpoint: "node-a:12341") == NodeAddress(host: "node-a", port: 12341))
        #expect(try NodeAddress(parsingEndpoint: "127.0.0.1:7001") == NodeAddress(host: "127.0.0.1", port: 7001))
        for bad in ["::1", ":7001", "node-a:", "a b:1", "[::1]", "::g:1", "node-a:70000", ""] {
            #expect(throws: NodeAddressError.self) { try NodeAddress(parsingEndpoint: bad) }
        }
    }

    @Test func parsesFileWithCommentsAndBlankLines() throws {
        let text = """
        # three local nodes
          127.0.0.1:7001  

        127.0.0.1:7002\r
        # trailing comment
        127.0.0.1:7003
        """
        let membership = try Membership(parsing: text)
        #expect(membership.nodes.map(\.description) == ["127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"])
    }

    @Test func errorNamesFileLineAndText() {
        let text = "# nodes\n127.0.0.1:7001\n127.0.0.1:abc\n"
        do {
            _ = try Membership(parsing: text, source: "cluster.membership")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == #"cluster.membership:3: "127.0.0.1:abc" is not host:port (host: an IPv4 address, an IPv6 address in brackets as in [::1]:7001, or a DNS name; port: 1-65535)"#)
        }
    }

    @Test func rejectsDuplicates() {
        do {
            _ = try Membership(parsing: "a:1\nb:2\na:1\n", source: "m")
            Issue.record("expected an error")
        } catch {
            #expect(error.location == "m:3")
            #expect(error.message.contains("a:1"))
            #expect(error.message.contains("line 1"))
        }
    }

    @Test func rejectsEmpty() {
        #expect(throws: MembershipError.self) { try Membership(parsing: "# only a comment\n\n") }
        #expect(throws: MembershipError.self) { try Membership(parsing: "") }
    }
}
