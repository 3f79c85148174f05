import Testing
@testable import ShardRouter
@Test func placeholderShardRouter() { #expect(Bool(true)) }
