import NablaNN
import NablaTensor

/// The data `:data` loaded: what `:train` feeds through `X` and `Y`.
package struct TrainingData {
    package var train: Dataset
    package var validation: Dataset?
    package var test: Dataset?
    package var xName = "X"
    package var yName = "Y"

    /// The most numbers a split puts into the graph at once (`Session.heldNumbers`): 2 million
    /// (16 MB as float64). Every node keeps its value, so the 60,000 MNIST images in full
    /// would take about 1.3 GB of activations; above this limit X and Y hold the split's
    /// first rows, and :train and its evaluations go through all of them in windows of that
    /// many rows.
    package static let defaultHeldNumbers = 2_000_000

    /// `hold=N`: X and Y hold at most N training rows (a convnet's activations are tens of
    /// times its input: `hold=64` keeps its float64 definitions quick).
    package var holdRows: Int?
    /// The training rows X and Y hold (made once by `install`).
    package var trainWindow: Dataset?
    package var heldTrain: Dataset { trainWindow ?? train }

    package init(train: Dataset, validation: Dataset?, test: Dataset?) {
        (self.train, self.validation, self.test) = (train, validation, test)
    }
}

/// The per-epoch figures of the last `:train`, for the curves.
package struct TrainingHistory {
    package var loss: [Double] = []
    package var accuracy: [Double] = []
    package var validationLoss: [Double] = []
    package var validationAccuracy: [Double] = []
    /// The accuracy on the whole test split at the end of training (`nabla mnist` prints it).
    package var testAccuracy: Double?
    /// The decision regions at the end of training, for 2 features with classes (`:plot regions`).
    package var regions: RegionMap?

    package init() {}
}

/// A 2-D classifier's decision regions: the class of each cell of a grid over the data (row
/// 0 at the top), and the data points with their labels and predictions.
package struct RegionMap: Sendable {
    package var width: Int
    package var height: Int
    package var cells: [Int]
    package var left: Double, right: Double, bottom: Double, top: Double
    package var points: [(x: Double, y: Double, label: Int, predicted: Int)]

    package init(width: Int, height: Int, cells: [Int], bounds: (Double, Double, Double, Double), points: [(x: Double, y: Double, label: Int, predicted: Int)]) {
        (self.width, self.height, self.cells) = (width, height, cells)
        (left, right, bottom, top) = bounds
        self.points = points
    }

    /// How many points fall in another class's region.
    package var misclassified: Int { points.filter { $0.label != $0.predicted }.count }
}
