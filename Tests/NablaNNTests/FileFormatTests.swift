import Foundation
@testable import NablaNN
import NablaTensor
import Testing

// Every expected value below was computed outside nabla: the MD5 digests are RFC 1321's test
// suite (appendix A.5) or Python's hashlib / md5sum; the .npy and .safetensors bytes were
// written by numpy 2.4 (`np.save`) and Python's safetensors 0.8 (`safetensors.numpy.save`);
// the CSV statistics by numpy or by hand.

/// Bytes from base64 (the fixtures); empty when the text is not base64.
private func bytes(_ base64: String) -> Data {
    Data(base64Encoded: base64) ?? Data()
}

@Suite("MD5")
struct MD5Tests {
    @Test("RFC 1321's test suite", arguments: [
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
        ("a", "0cc175b9c0f1b6a831c399e269772661"),
        ("abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
        ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
        ("12345678901234567890123456789012345678901234567890123456789012345678901234567890", "57edf4a22be3c955ac49da2e2107b67a"),
    ] as [(String, String)])
    func rfcVectors(message: String, digest: String) {
        #expect(MD5.hex(message) == digest)
        #expect(MD5.hex(Data(message.utf8)) == digest)
    }

    @Test("a buffer at once, piece by piece, or as a lazy sequence: md5sum's digest")
    func streaming() {
        // python3 -c "import hashlib; print(hashlib.md5(bytes(i % 256 for i in range(1000))).hexdigest())"
        let expected = "cbecbdb0fdd5cec1e242493b6008cc79"
        let buffer = (0..<1000).map { UInt8($0 % 256) }
        #expect(MD5.hex(buffer) == expected)
        var md5 = MD5()
        var start = 0
        for size in [1, 62, 3, 64, 0, 127, 200, 543] {
            md5.update(buffer[start..<start + size])
            start += size
        }
        #expect(start == 1000 && md5.hexDigest == expected)
        #expect(md5.digest.count == 16)
        var lazy = MD5()
        lazy.update(buffer.lazy.map { $0 })
        #expect(lazy.hexDigest == expected)
        // A million 'a's (hashlib), and UTF-8 text.
        #expect(MD5.hex(Data(repeating: UInt8(ascii: "a"), count: 1_000_000)) == "7707d6ae4e027c70eea2a935c2296f21")
        #expect(MD5.hex("θ → nabla") == "28b4dfd65105126e7e69fee64ed2eee9")
    }
}

@Suite("Weights as .safetensors")
struct SafetensorsTests {
    /// safetensors.numpy.save({'w': float32 [[1.5, -2], [0.25, 3]], 'b': int64 [1, -2, 3],
    /// 'h': float16 [0.5, -1, 65504, 2**-24], 'u': uint8 [[0, 255]], 'i': int8 [-128, 127],
    /// 'd': float64 2.5}, metadata={'format': 'np'}): 436 bytes; it lays the data out b, d, w, h, i, u.
    static let reference = """
        cAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJucCJ9LCJiIjp7ImR0eXBlIjoiSTY0Iiwic2hhcGUiOlszXSwiZGF0YV9vZmZzZXRzIjpbMCwyNF19\
        LCJkIjp7ImR0eXBlIjoiRjY0Iiwic2hhcGUiOltdLCJkYXRhX29mZnNldHMiOlsyNCwzMl19LCJ3Ijp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDJdLCJkYXRh\
        X29mZnNldHMiOlszMiw0OF19LCJoIjp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOls0XSwiZGF0YV9vZmZzZXRzIjpbNDgsNTZdfSwiaSI6eyJkdHlwZSI6Ikk4Iiwic2hh\
        cGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbNTYsNThdfSwidSI6eyJkdHlwZSI6IlU4Iiwic2hhcGUiOlsxLDJdLCJkYXRhX29mZnNldHMiOls1OCw2MF19fSAgICAgIAEA\
        AAAAAAAA/v////////8DAAAAAAAAAAAAAAAAAARAAADAPwAAAMAAAIA+AABAQAA4ALz/ewEAgH8A/w==
        """

    @Test("a file written by Python's safetensors: every dtype read, in the file's order")
    func pythonReference() throws {
        let data = bytes(Self.reference)
        #expect(data.count == 436)
        let arrays = try Safetensors.decode(data, name: "ref.safetensors")
        #expect(arrays.map(\.0) == ["b", "d", "w", "h", "i", "u"])
        #expect(arrays.map(\.1) == [
            Tensor(vector: [1, -2, 3]),
            Tensor(2.5),
            Tensor(shape: [2, 2], scalars: [1.5, -2, 0.25, 3]),
            Tensor(vector: [0.5, -1, 65504, 5.960464477539063e-08]),
            Tensor(vector: [-128, 127]),
            Tensor(shape: [1, 2], scalars: [0, 255]),
        ])
    }

    @Test("float64 round-trips exactly, in order, with any names; float32 rounds to float32")
    func roundTrip() throws {
        let arrays: [(String, Tensor)] = [
            ("W1", Tensor(shape: [2, 3], scalars: [0.1, -0.2, 1e-300, .pi, -0.0, 7])),
            ("θ \"quoted\" \\ \n", Tensor(3.5)),
            ("empty", Tensor(shape: [0, 4], scalars: [])),
        ]
        let back = try Safetensors.decode(Safetensors.encode(arrays), name: "w.safetensors")
        #expect(back.map(\.0) == arrays.map(\.0))
        #expect(back.map(\.1) == arrays.map(\.1))
        let single = try Safetensors.decode(Safetensors.encode([("x", Tensor(vector: [0.1, 1e40]))], dtype: .f32), name: "s")
        #expect(single.first?.1.scalars == [Double(Float(0.1)), Double.infinity])
    }

    @Test("the header: 8-byte length, JSON with metadata first, padded to 8 bytes; the data after it")
    func layout() {
        let data = [UInt8](Safetensors.encode([("W", Tensor(vector: [1, 2]))]))
        let json = #"{"__metadata__":{"generator":"nabla"},"W":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}"#
        // 92 characters of JSON, padded with 4 spaces to 96.
        #expect(json.utf8.count == 92)
        #expect(Array(data[0..<8]) == [96, 0, 0, 0, 0, 0, 0, 0])
        #expect(String(decoding: data[8..<104], as: UTF8.self) == json + "    ")
        // 1.0 and 2.0 as little-endian float64.
        #expect(Array(data[104...]) == [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0x40])
    }

    /// A file with this header (not padded) and these data bytes.
    static func file(_ header: String, _ data: [UInt8]) -> Data {
        let n = header.utf8.count
        return Data((0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + Array(header.utf8) + data)
    }

    @Test("BF16, U16, BOOL: bfloat16 is the top half of a float32")
    func moreDtypes() throws {
        // 0x3F80, 0xC020, 0x4049, 0x7F80 << 16 as float32 (numpy): 1.0, -2.5, 3.140625, inf.
        let header = #"{"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"U16","shape":[1],"data_offsets":[8,10]},"c":{"dtype":"BOOL","shape":[2],"data_offsets":[10,12]}}"#
        let data: [UInt8] = [0x80, 0x3f, 0x20, 0xc0, 0x49, 0x40, 0x80, 0x7f, 0xff, 0xff, 1, 0]
        let arrays = try Safetensors.decode(Self.file(header, data), name: "t")
        #expect(arrays.map(\.1.scalars) == [[1, -2.5, 3.140625, Double.infinity], [65535], [1, 0]])
    }

    @Test("corrupt files are refused with the reason", arguments: [
        (Data([1, 2, 3]), "t: too short to be a .safetensors file (3 bytes)"),
        (Data([0, 0, 0, 0, 1, 0, 0, 0]), "t: the header claims 4294967296 bytes (more than 100 MB): not a .safetensors file, or corrupt"),
        (Data([9, 0, 0, 0, 0, 0, 0, 0]) + Data("{}".utf8), "t: the header claims 9 bytes, the file holds 2 after the length: truncated, or not a .safetensors file"),
        (SafetensorsTests.file("{\"a\":", []), "t: the header is not valid JSON: corrupt, or not a .safetensors file"),
        (SafetensorsTests.file("[1, 2]", []), "t: not a .safetensors file (no JSON header)"),
        (SafetensorsTests.file(#"{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 16)),
         "t: 'a': [2] F64 takes 16 bytes, data_offsets [0, 8] hold 8: corrupt"),
        (SafetensorsTests.file(#"{"a":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}"#, Array(repeating: 0, count: 16)),
         "t: 'a': data_offsets [8, 24] fall outside the data (16 bytes): truncated or corrupt"),
        (SafetensorsTests.file(#"{"a":{"dtype":"F64","shape":[-2],"data_offsets":[0,0]}}"#, []),
         "t: 'a': the shape is not a list of non-negative whole numbers"),
        (SafetensorsTests.file(#"{"a":{"dtype":"F64","shape":[2.5],"data_offsets":[0,0]}}"#, []),
         "t: 'a': the shape is not a list of non-negative whole numbers"),
        (SafetensorsTests.file(#"{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#, Array(repeating: 0, count: 8)),
         "t: 'a': the dtype C64 is not read (F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL are)"),
        (SafetensorsTests.file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, Array(repeating: 0, count: 8)),
         "t: the data of 'a' and 'b' overlap: corrupt"),
        (SafetensorsTests.file(#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, [1, 0, 0, 0, 0, 0, 0x20, 0]),
         "t: a: element 0 is the integer 9007199254740993, which float64 cannot hold exactly (past 2^53); nothing is loaded"),
    ] as [(Data, String)])
    func corrupt(data: Data, message: String) {
        #expect(throws: DataError(message)) { try Safetensors.decode(data, name: "t") }
    }
}

@Suite("More .npy arrays: Fortran order, integers, bool, float16, big-endian")
struct NumpyFormatTests {
    @Test("np.save(np.asfortranarray([[1., 2., 3.], [4., 5., 6.]])) reads in row-major order")
    func fortran2D() throws {
        // The data is stored column by column: 1, 4, 2, 5, 3, 6.
        let f = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADwPwAAAAAAABBAAAAAAAAAAEAAAAAAAAAUQAAAAAAAAAhAAAAAAAAAGEA="
        let t = try Numpy.readNPY(bytes(f), name: "f.npy")
        #expect(t == Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
    }

    @Test("a Fortran-ordered float32 [2, 3, 4] (np.arange(24).reshape(2, 3, 4) * 0.5)")
    func fortran3D() throws {
        let f = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADAQAAAAEAAAABBAACAQAAAIEEAAAA/AADQQAAAIEAAAAhBAACQQAAAKEEAAIA/AADgQAAAQEAAABBBAACgQAAAMEEAAMA/AADwQAAAYEAAABhBAACwQAAAOEE="
        let t = try Numpy.readNPY(bytes(f), name: "f3.npy")
        #expect(t.shape == [2, 3, 4])
        #expect(t.scalars == (0..<24).map { Double($0) * 0.5 })
    }

    @Test("the column-major to row-major reordering, checked by hand on a [2, 2, 2]")
    func reorder() {
        // Column-major [a000, a100, a010, a110, a001, a101, a011, a111], with a_ijk = 100i + 10j + k.
        let columnMajor: [Double] = [0, 100, 10, 110, 1, 101, 11, 111]
        #expect(Numpy.rowMajor(fromColumnMajor: columnMajor, shape: [2, 2, 2]) == [0, 1, 10, 11, 100, 101, 110, 111])
        #expect(Numpy.rowMajor(fromColumnMajor: [1, 2, 3], shape: [3]) == [1, 2, 3])
    }

    @Test("integer, bool, float16 and big-endian arrays become float64", arguments: [
        // np.array([[-3, 0], [2**53, 7]], dtype='<i8')
        ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr9/////////wAAAAAAAAAAAAAAAAAAIAAHAAAAAAAAAA==",
         [2, 2], [-3, 0, 9007199254740992, 7]),
        // np.array([1, -2, 70000], dtype='>i4'): converted from big-endian
        ("k05VTVBZAQB2AHsnZGVzY3InOiAnPmk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAB/////gABEXA=",
         [3], [1, -2, 70000]),
        // np.array([True, False, True])
        ("k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=",
         [3], [1, 0, 1]),
        // np.array([65535, 0, 1], dtype='<u2')
        ("k05VTVBZAQB2AHsnZGVzY3InOiAnPHUyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAr//wAAAQA=",
         [3], [65535, 0, 1]),
        // np.array([1.5, -0.099975586, 65504], dtype='<f2'), whose float64 values numpy gives as below
        ("k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPmau/3s=",
         [3], [1.5, -0.0999755859375, 65504]),
    ] as [(String, [Int], [Double])])
    func dtypes(base64: String, shape: [Int], values: [Double]) throws {
        let t = try Numpy.readNPY(bytes(base64), name: "a.npy")
        #expect(t.shape == shape && t.scalars == values)
    }

    @Test("an int64 past 2^53 is refused, not rounded; an unknown dtype is named")
    func refusals() {
        // np.array([2**53 + 1], dtype='<i8')
        let big = "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAgAA=="
        #expect(throws: DataError("b.npy: element 0 is the integer 9007199254740993, which float64 cannot hold exactly (past 2^53); nothing is loaded")) {
            try Numpy.readNPY(bytes(big), name: "b.npy")
        }
        var complex = Numpy.npy(Tensor(vector: [1, 2]))
        complex.replaceSubrange(21..<24, with: Data("<c8".utf8))
        #expect(throws: DataError("c.npy: the dtype '<c8' is not read (float64, float32, float16, integers of 1 to 8 bytes and bool are)")) {
            try Numpy.readNPY(complex, name: "c.npy")
        }
    }
}

@Suite("CSV files")
struct CSVTests {
    @Test("RFC 4180: quoted delimiters, line ends and quotes; CRLF; comments; a trailing empty line")
    func quoting() throws {
        let text = "a,\"b, c\",\"say \"\"hi\"\"\"\r\n1,\"2\n3\",x\r\n# a comment, not a row\n\"#not\",5 , 6\n\n"
        let table = try CSVTable.parse(text)
        #expect(table.header == ["a", "b, c", "say \"hi\""])
        #expect(table.rows == [["1", "2\n3", "x"], ["#not", "5", "6"]])
        // Line 1 the header; the first row starts on line 2 and ends on line 3; line 4 a comment.
        #expect(table.lines == [2, 5])
    }

    @Test("a byte order mark, CR line ends, and no header when the first row is numbers")
    func bomAndCR() throws {
        let bom = try CSVTable.parse("\u{FEFF}x,y\n1,2\n")
        #expect(bom.header == ["x", "y"] && bom.rows == [["1", "2"]])
        let cr = try CSVTable.parse("1,2\r3,4\r")
        #expect(cr.header == nil && cr.rows == [["1", "2"], ["3", "4"]] && cr.lines == [1, 2])
    }

    @Test("the delimiter is sniffed: ';' (with decimal commas) and tab")
    func delimiters() throws {
        let (semi, _) = try Dataset.csv("x;y;label\n1,5;2;0\n2,5;3;1\n", name: "s.csv", options: CSVOptions())
        #expect(semi.x == Tensor(shape: [2, 2], scalars: [1.5, 2, 2.5, 3]))
        #expect(semi.y.scalars == [0, 1] && semi.classes == 2)
        let tab = try CSVTable.parse("a\tb,c\n1\t2\n")
        #expect(tab.header == ["a", "b,c"] && tab.rows == [["1", "2"]])
        let given = try CSVTable.parse("1|2\n", delimiter: "|")
        #expect(given.rows == [["1", "2"]])
    }

    static let iris = """
        sepal_length,sepal_width,species
        5.1,3.5,setosa
        7.0,3.2,versicolor
        6.3,3.3,virginica
        4.9,3.0,setosa

        """

    @Test("text labels become classes in sorted order, named in classNames and a note")
    func textLabels() throws {
        let (d, notes) = try Dataset.csv(Self.iris, name: "iris.csv", options: CSVOptions())
        #expect(d.x == Tensor(shape: [4, 2], scalars: [5.1, 3.5, 7.0, 3.2, 6.3, 3.3, 4.9, 3.0]))
        #expect(d.classes == 3 && d.y == Tensor(vector: [0, 1, 2, 0]))
        #expect(d.classNames == ["setosa", "versicolor", "virginica"])
        #expect(notes == ["classes: 0 = setosa, 1 = versicolor, 2 = virginica"])
        // Two labels: a column [N, 1], as for 0/1 numbers; no header here.
        let (two, _) = try Dataset.csv("1,2,cat\n3,4,dog\n5,6,cat\n", name: "t.csv", options: CSVOptions())
        #expect(two.classes == 2 && two.y == Tensor(shape: [3, 1], scalars: [0, 1, 0]) && two.classNames == ["cat", "dog"])
    }

    @Test("the target column by name (any case) or number, counted from 1 or from the end")
    func target() throws {
        let text = "a,b,c\n1,2,0\n3,4,1\n5,6,0\n"
        for target in ["a", "A", "1", "-3"] {
            let (d, _) = try Dataset.csv(text, name: "t.csv", options: CSVOptions(target: target))
            // Targets 1, 3, 5: three whole values, classes numbered in order (classValues).
            #expect(d.x == Tensor(shape: [3, 2], scalars: [2, 0, 4, 1, 6, 0]))
            #expect(d.classes == 3 && d.y.scalars == [0, 1, 2] && d.classValues == [1, 3, 5])
        }
        #expect(throws: DataError("target=z: no column of that name (the columns: a, b, c)")) {
            try Dataset.csv(text, name: "t.csv", options: CSVOptions(target: "z"))
        }
        #expect(throws: DataError("target=4: the file has 3 columns (1 to 3, or -1 for the last)")) {
            try Dataset.csv(text, name: "t.csv", options: CSVOptions(target: "4"))
        }
    }

    static let gaps = "f1,f2,y\n1,2,0\nNA,4,1\n5,,0\n7,8,\n9,10,1\n"

    @Test("missing values: refused by default, with where and what to say")
    func missingRefused() {
        #expect(throws: DataError("'NA': a missing value (missing=drop or missing=mean)", line: 3, column: 1)) {
            try Dataset.csv(Self.gaps, name: "g.csv", options: CSVOptions())
        }
        #expect(throws: DataError("an empty cell: a missing target (missing=drop or missing=mean drop such rows; a target is never filled in)", line: 2, column: 3)) {
            try Dataset.csv("1,2\n3,\n", name: "g.csv", options: CSVOptions())
        }
    }

    @Test("missing=drop leaves out the rows with a missing value")
    func missingDropped() throws {
        let (d, notes) = try Dataset.csv(Self.gaps, name: "g.csv", options: CSVOptions(missing: .dropRows))
        #expect(d.x == Tensor(shape: [2, 2], scalars: [1, 2, 9, 10]) && d.y.scalars == [0, 1])
        #expect(notes == ["dropped 3 rows with missing values"])
    }

    @Test("missing=mean fills a feature with its column's mean over the rows kept; a missing target drops its row")
    func missingMean() throws {
        let (d, notes) = try Dataset.csv(Self.gaps, name: "g.csv", options: CSVOptions(missing: .mean))
        // Rows kept: 1, 2 / NA, 4 / 5, _ / 9, 10. f1's mean (1 + 5 + 9) / 3 = 5; f2's (2 + 4 + 10) / 3 = 16/3.
        #expect(d.x == Tensor(shape: [4, 2], scalars: [1, 2, 5, 4, 5, 16.0 / 3, 9, 10]))
        #expect(d.y.scalars == [0, 1, 0, 1])
        #expect(notes == [
            "dropped 1 row with a missing target (a target is never filled in)",
            "filled 2 missing values with the column's mean: f1 = 5 (1), f2 = 5.33333 (1)",
        ])
    }

    @Test("standardise: each feature to mean 0 and sd 1 (numpy's mean and std), a constant one only centred")
    func standardise() throws {
        let (d, notes) = try Dataset.csv(Self.iris, name: "iris.csv", options: CSVOptions(standardize: true))
        // x = np.array([[5.1, 3.5], [7.0, 3.2], [6.3, 3.3], [4.9, 3.0]]); (x - x.mean(0)) / x.std(0)
        let expected: [Double] = [
            -0.8389074385035385, 1.386750490563073, 1.3596086072298743, -0.2773500981126136,
            0.5496290114333537, 0.2773500981126136, -1.0703301801596865, -1.386750490563073,
        ]
        #expect(zip(d.x.scalars, expected).allSatisfy { abs($0 - $1) < 1e-12 })
        #expect(notes == [
            "classes: 0 = setosa, 1 = versicolor, 2 = virginica",
            "standardised 2 features (mean 0, sd 1)",
            "means: 5.825, 3.25",
            "sds: 0.864219, 0.180278",
        ])
        let (c, cNotes) = try Dataset.csv("a,k,y\n1,2,0\n3,2,1\n", name: "c.csv", options: CSVOptions(standardize: true))
        #expect(c.x == Tensor(shape: [2, 2], scalars: [-1, 0, 1, 0]))
        #expect(cNotes.last == "constant (sd 0), only centred: k")
    }

    @Test("errors name the line and the column", arguments: [
        ("a,b\n1,\"2\n3,4\n", "line 2, column 3: a quoted field is never closed: its quote opens here (a quote inside quotes is written \"\")"),
        ("1,\"2\"x,3\n", "line 1, column 6: text after the closing quote of a field (a quote inside quotes is written \"\")"),
        ("sepal_length,sepal_width,species\n5.1,3.5,setosa\n", "line 2, column 9: 'setosa' is not a number"),
        ("x,y\n1,2\n3,4,5\n", "line 3, column 1: 3 columns, but the first row has 2"),
        ("x,y\n1,2\n3,oops\n4,5\n", "line 3, column 3: 'oops' is not a number (the target column holds numbers)"),
        ("x,y\n1,a\n", "the target column (y) holds one label, 'a': nothing to tell apart (target= picks another column)"),
        ("x,y\nNA,1\nNA,2\n", "the column 'x' has no values at all: there is no mean to fill in (missing=drop, or leave the column out)"),
    ] as [(String, String)])
    func errors(text: String, message: String) {
        do {
            // The species as a feature: the first column is the target there.
            let target = text.hasPrefix("sepal") ? "1" : nil
            _ = try Dataset.csv(text, name: "e.csv", options: CSVOptions(target: target, missing: .mean))
            Issue.record("no error for \(text)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test("the old entry point still reads plain numeric files")
    func oldEntryPoint() throws {
        let d = try Dataset.csv("x1,x2,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n", name: "xor.csv")
        #expect(d.x.shape == [4, 2] && d.y.scalars == [0, 1, 1, 0] && d.classes == 2)
    }
}
