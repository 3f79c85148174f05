import Testing
@testable import RaftSimulator
@Test func placeholderRaftSimulator() { #expect(Bool(true)) }
