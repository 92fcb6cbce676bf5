#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NablaTensor
import Testing

/// `Format.number` lays out short numbers itself; it must print exactly what printf's %g does.
@Suite("Number formatting without printf")
struct ShortFormatTests {
    static func printfG(_ v: Double, _ digits: Int) -> String { Format.printf("%.\(digits)g", v) }

    @Test("the layout of %g for numbers of few digits, every exponent from -12 to 12")
    func layouts() {
        for e in -12...12 {
            for mantissa in [1.0, 1.5, 2.25, 9.5, 1.23456, 7.0625, 3.14159, 9.99999] {
                for sign in [1.0, -1.0] {
                    let v = sign * mantissa * pow(10, Double(e))
                    for digits in [3, 6] {
                        #expect(Format.number(v, digits: digits) == Self.printfG(v, digits), "\(v) with \(digits) digits")
                    }
                }
            }
        }
    }

    @Test("random numbers of every magnitude agree with printf")
    func randomNumbers() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let digits = Int.random(in: 1...8, using: &rng)
            let exponent = Double(Int.random(in: -310...308, using: &rng))
            let short = Double(Int.random(in: 1...999_999, using: &rng)) * pow(10, exponent - 6)
            let long = Double.random(in: -1...1, using: &rng) * pow(10, exponent)
            for v in [short, long, Double(Float(short)), 1 / short] where v.isFinite {
                #expect(Format.number(v, digits: digits) == Self.printfG(v, digits) || v == 0, "\(v) with \(digits) digits")
            }
        }
    }

    @Test("short numbers are laid out without printf; long ones are left to it")
    func fastPathTaken() {
        #expect(Format.shortG(0.125, digits: 6) == "0.125")
        #expect(Format.shortG(-2.5e-7, digits: 6) == "-2.5e-07")
        #expect(Format.shortG(1234.5, digits: 6) == "1234.5")
        #expect(Format.shortG(1.5e6, digits: 6) == "1.5e+06")
        #expect(Format.shortG(0.1 + 0.2, digits: 6) == "0.3")  // 0.30000000000000004, rounded
        #expect(Format.shortG(1 / 3, digits: 6) == "0.333333")
        #expect(Format.shortG(9.9999996, digits: 6) == "10")  // the carry raises the exponent
        #expect(Format.shortG(1.234565, digits: 6) == nil)  // one digit more: a tie is possible, printf decides
        #expect(Format.shortG(.leastNonzeroMagnitude, digits: 6) == nil)
        #expect(Format.shortG(0.1, digits: 17) == nil)  // %.17g is 0.10000000000000001
        #expect(Format.number(0.1, digits: 17) == "0.10000000000000001")
    }

    @Test("subnormals and the edges go to printf")
    func edges() {
        for v in [Double.leastNonzeroMagnitude, 2.2250738585072014e-308, Double.greatestFiniteMagnitude, 1e-5, 123456.0, 999999.5, 1e6, 0.0001, 0.00001,
                  0.1234565, 2.675, 1.0000005, 9.9999995, 999999.4999999, 0.000099999951, 0.731058578630074, -0.2689414213699951] {
            #expect(Format.number(v) == Self.printfG(v, 6), "\(v)")
        }
    }
}
