package fr.leuwen.rhdemoAPI;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import fr.leuwen.rhdemoAPI.model.Employe;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.actuate.info.InfoContributor;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.autoconfigure.jackson.Jackson2ObjectMapperBuilderCustomizer;
import org.springframework.context.annotation.Bean;

@SpringBootApplication
public class RhdemoApplication {

    public static void main(String[] args) {
        SpringApplication.run(RhdemoApplication.class, args);
    }

    /** The entity model of the running release (RHDEMO_APP_VERSION), like one image per release. */
    @Bean
    Release release(@Value("${rhdemo.release}") String release) {
        return Release.of(release);
    }

    /** Release 1.0 has no telephone: not in its JSON, ignored in request bodies. */
    @Bean
    Jackson2ObjectMapperBuilderCustomizer releaseFields(Release release) {
        return builder -> {
            if (!release.columns().contains("telephone")) {
                builder.mixIn(Employe.class, WithoutTelephone.class);
            }
        };
    }

    @JsonIgnoreProperties("telephone")
    private interface WithoutTelephone {
    }

    /** The same /actuator/info body as the stub. */
    @Bean
    InfoContributor modelInfo(Release release, @Value("${spring.application.name}") String name) {
        return builder -> {
            builder.withDetail("app", Map.of("name", name, "version", release.version()));
            builder.withDetail("build", Map.of("artifact", "rhdemo", "name", name, "version", release.version()));
            Map<String, Object> model = new LinkedHashMap<>();
            model.put("version", release.version());
            model.put("table", "employes");
            model.put("columns", release.columns());
            model.put("migrations", release.migrations());
            builder.withDetail("model", model);
        };
    }

    public record Release(String version, List<String> columns, List<String> migrations) {
        static Release of(String version) {
            return switch (version) {
                case "1.0" -> new Release("1.0", List.of("id", "adresse", "mail", "nom", "prenom"),
                        List.of("V1__initial_schema.sql"));
                case "1.1" -> new Release("1.1", List.of("id", "adresse", "mail", "nom", "prenom", "telephone"),
                        List.of("V1__initial_schema.sql", "V2__add_phone_column.sql"));
                default -> throw new IllegalArgumentException(
                        "RHDEMO_APP_VERSION=" + version + " is not a model release; expected one of 1.0, 1.1");
            };
        }
    }
}
