// Expands an archive exactly as the EBRAINS SpiNNaker runner does: JavaSpiNNaker's
// SpiNNaker-nmpiexec ZipPyNNJobParametersFactory calls commons-compress
// `new Expander().expand(file, dir)` (format detected from the stream's signature).
// Run with: java -cp /usr/share/java/commons-compress.jar Expand.java ARCHIVE DIR
import java.io.File;
import org.apache.commons.compress.archivers.examples.Expander;

public class Expand {
    public static void main(String[] args) throws Exception {
        new Expander().expand(new File(args[0]), new File(args[1]));
    }
}
