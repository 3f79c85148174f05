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
                      "127.0.0.1:+80", "::1:7001", "a b:1", "host:999999"])
    func rejectsBadAddresses(text: String) {
        #expect(throws: NodeAddressError(text: text)) { try NodeAddress(parsing: text) }
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
            #expect(error.description == #"cluster.membership:3: "127.0.0.1:abc" is not host:port (port must be 1-65535)"#)
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
