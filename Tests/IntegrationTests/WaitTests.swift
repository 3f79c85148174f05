import Foundation
import MyStoreClient
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// WAIT counts the replicas that hold the connection's last write, from the Raft leader's
/// view of its followers' acknowledgements.
@Suite(.serialized) struct WaitTests {
    @Test func waitCountsReplicasHoldingTheLastWrite() throws {
        let ports = [12381, 12382, 12383]
        let cluster = try LocalCluster(name: "wait", ports: ports, extraArgs: ["--set", "shard_count=1"])
        defer { cluster.shutdown() }
        try cluster.startAll()
        #expect(cluster.waitUntilReady())
        // Through a node that does not lead the shard: WAIT is answered by the leader.
        let leader = TransactionIntegrationTests.leaderPort(cluster, ports) ?? ports[0]
        let other = ports.first { $0 != leader }!
        let c = try cluster.connection(other)
        #expect(try c.send([bytes("WAIT"), bytes("1"), bytes("100")]) == .integer(0), "no write yet")
        #expect(try c.send([bytes("SET"), bytes("k"), bytes("v")]) == .simpleString("OK"))
        #expect(try c.send([bytes("WAIT"), bytes("2"), bytes("2000")]) == .integer(2), "both followers hold it")
        #expect(try c.send([bytes("WAIT"), bytes("1"), bytes("-1")]).errorMessage == "ERR timeout is negative")

        // With one follower gone, a write commits on the other: WAIT 2 times out at 1.
        let gone = ports.first { $0 != leader && $0 != other }!
        cluster.kill(gone)
        let d = try cluster.connection(leader)
        #expect(try d.send([bytes("SET"), bytes("k"), bytes("w")]) == .simpleString("OK"))
        let started = Date()
        #expect(try d.send([bytes("WAIT"), bytes("2"), bytes("300")]) == .integer(1))
        #expect(Date().timeIntervalSince(started) >= 0.25, "it waited for the timeout")
    }
}
