import Testing
@testable import MultiRaft
@Test func placeholderMultiRaft() { #expect(Bool(true)) }
