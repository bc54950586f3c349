package fr.leuwen.rhdemoAPI;

import fr.leuwen.rhdemoAPI.model.EmployeEntity;
import jakarta.persistence.EntityManager;
import jakarta.persistence.PersistenceException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.validation.Valid;
import java.io.IOException;
import java.net.URI;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/** /api/employes: the same routes, status codes and page shape as the stub. */
@RestController
@RequestMapping("/api/employes")
public class EmployeController {

    private static final int MAX_PAGE_SIZE = 2000;

    private final EntityManager entityManager;
    private final RhdemoApplication.Release release;

    EmployeController(EntityManager entityManager, RhdemoApplication.Release release) {
        this.entityManager = entityManager;
        this.release = release;
    }

    @GetMapping
    @Transactional(readOnly = true)
    public Map<String, Object> list(@RequestParam(defaultValue = "0") int page,
                                    @RequestParam(defaultValue = "20") int size,
                                    HttpServletRequest request) {
        if (page < 0) {
            throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "Page index must not be less than zero");
        }
        if (size < 1 || size > MAX_PAGE_SIZE) {
            throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "Page size must be between 1 and " + MAX_PAGE_SIZE);
        }
        List<String> orders = new ArrayList<>();
        // Each `sort` parameter whole ("nom,desc"): a List<String> parameter would be split at the comma.
        String[] sort = request.getParameterValues("sort");
        for (String raw : sort == null ? new String[0] : sort) {
            String[] parts = raw.split(",", 2);
            String direction = parts.length > 1 ? parts[1].toLowerCase() : "asc";
            if (!release.columns().contains(parts[0]) || !(direction.equals("asc") || direction.equals("desc"))) {
                throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "Invalid sort '" + raw
                        + "': expected <field>[,asc|desc] with a field among "
                        + String.join(", ", new TreeSet<>(release.columns())));
            }
            orders.add("e." + parts[0] + " " + direction);
        }
        orders.add("e.id asc");
        String entity = "Employe";
        long total = entityManager.createQuery("select count(e) from " + entity + " e", Long.class).getSingleResult();
        List<? extends EmployeEntity> content = entityManager
                .createQuery("select e from " + entity + " e order by " + String.join(", ", orders), release.entity())
                .setFirstResult(page * size).setMaxResults(size).getResultList();
        Map<String, Object> pageInfo = new LinkedHashMap<>();
        pageInfo.put("size", size);
        pageInfo.put("number", page);
        pageInfo.put("totalElements", total);
        pageInfo.put("totalPages", (total + size - 1) / size);
        return Map.of("content", content, "page", pageInfo);
    }

    @GetMapping("/{id}")
    @Transactional(readOnly = true)
    public EmployeEntity get(@PathVariable Long id) {
        return find(id);
    }

    @PostMapping
    @Transactional
    public ResponseEntity<EmployeEntity> create(@Valid @RequestBody Employe form) throws ReflectiveOperationException {
        EmployeEntity employe = release.entity().getDeclaredConstructor().newInstance();
        apply(form, employe);
        entityManager.persist(employe);
        entityManager.flush();
        return ResponseEntity.created(URI.create("/api/employes/" + employe.getId())).body(employe);
    }

    @PutMapping("/{id}")
    @Transactional
    public EmployeEntity update(@PathVariable Long id, @Valid @RequestBody Employe form) {
        EmployeEntity employe = find(id);
        apply(form, employe);
        entityManager.flush();
        return employe;
    }

    @DeleteMapping("/{id}")
    @Transactional
    public ResponseEntity<Void> delete(@PathVariable Long id) {
        entityManager.remove(find(id));
        return ResponseEntity.noContent().build();
    }

    /** A duplicate mail is a 409 (unique index idx_employes_mail); any other persistence error propagates. */
    @ExceptionHandler({PersistenceException.class, DataIntegrityViolationException.class})
    public void conflict(RuntimeException exception, HttpServletResponse response) throws IOException {
        for (Throwable cause = exception; cause != null; cause = cause.getCause()) {
            if (cause instanceof SQLException sql && "23505".equals(sql.getSQLState())) {
                response.sendError(HttpStatus.CONFLICT.value(), "An employe with this mail already exists");
                return;
            }
        }
        throw exception;
    }

    private EmployeEntity find(Long id) {
        EmployeEntity employe = entityManager.find(release.entity(), id);
        if (employe == null) {
            throw new ResponseStatusException(HttpStatus.NOT_FOUND, "Employe " + id + " not found");
        }
        return employe;
    }

    private static void apply(Employe form, EmployeEntity employe) {
        employe.setPrenom(form.prenom());
        employe.setNom(form.nom());
        employe.setMail(form.mail());
        employe.setAdresse(blankToNull(form.adresse()));
        employe.setTelephone(blankToNull(form.telephone()));
    }

    private static String blankToNull(String value) {
        return value == null || value.isBlank() ? null : value;
    }
}
