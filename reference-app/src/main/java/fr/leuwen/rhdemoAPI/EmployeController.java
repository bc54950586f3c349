package fr.leuwen.rhdemoAPI;

import fr.leuwen.rhdemoAPI.model.Employe;
import fr.leuwen.rhdemoAPI.model.EmployeRepository;
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
import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
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

    private final EmployeRepository repository;
    private final RhdemoApplication.Release release;

    EmployeController(EmployeRepository repository, RhdemoApplication.Release release) {
        this.repository = repository;
        this.release = release;
    }

    @GetMapping
    public Map<String, Object> list(@RequestParam(defaultValue = "0") int page,
                                    @RequestParam(defaultValue = "20") int size,
                                    HttpServletRequest request) {
        if (page < 0) {
            throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "Page index must not be less than zero");
        }
        if (size < 1 || size > MAX_PAGE_SIZE) {
            throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "Page size must be between 1 and " + MAX_PAGE_SIZE);
        }
        List<Sort.Order> orders = new ArrayList<>();
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
            orders.add(new Sort.Order(Sort.Direction.fromString(direction), parts[0]));
        }
        orders.add(Sort.Order.asc("id"));  // a stable order across pages
        Page<Employe> found = repository.findAll(PageRequest.of(page, size, Sort.by(orders)));
        Map<String, Object> pageInfo = new LinkedHashMap<>();
        pageInfo.put("size", size);
        pageInfo.put("number", page);
        pageInfo.put("totalElements", found.getTotalElements());
        pageInfo.put("totalPages", found.getTotalPages());
        return Map.of("content", found.getContent(), "page", pageInfo);
    }

    @GetMapping("/{id}")
    public Employe get(@PathVariable Long id) {
        return find(id);
    }

    @PostMapping
    public ResponseEntity<Employe> create(@Valid @RequestBody Employe employe) {
        Employe saved = repository.saveAndFlush(employe);
        return ResponseEntity.created(URI.create("/api/employes/" + saved.getId())).body(saved);
    }

    @PutMapping("/{id}")
    public Employe update(@PathVariable Long id, @Valid @RequestBody Employe employe) {
        Employe existing = find(id);
        existing.replaceWith(employe);
        return repository.saveAndFlush(existing);
    }

    @DeleteMapping("/{id}")
    public ResponseEntity<Void> delete(@PathVariable Long id) {
        repository.delete(find(id));
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

    private Employe find(Long id) {
        return repository.findById(id).orElseThrow(
                () -> new ResponseStatusException(HttpStatus.NOT_FOUND, "Employe " + id + " not found"));
    }
}
