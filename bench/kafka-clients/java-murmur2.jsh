// Prints "key murmur2 partition-of-3 partition-of-6" as the Java client (kafka-clients 4.1.1) computes them.
// jshell --class-path kafka-clients-4.1.1.jar:slf4j-api.jar -q java-murmur2.jsh
import org.apache.kafka.common.utils.Utils;
var sb = new StringBuilder();
for (int i = 0; i < 100; i++) { byte[] k = ("key-" + i).getBytes(); sb.append("key-" + i + " " + Utils.murmur2(k) + " " + Utils.toPositive(Utils.murmur2(k)) % 3 + " " + Utils.toPositive(Utils.murmur2(k)) % 6 + "\n"); }
System.out.print(sb);
/exit
