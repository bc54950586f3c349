package fr.leuwen.rhdemoAPI;

import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** The request body of POST and PUT (named like the entity, so validation errors say object='employe'). */
public record Employe(
        @NotBlank @Size(max = 250) String prenom,
        @NotBlank @Size(max = 250) String nom,
        @NotBlank @Email @Size(max = 250) String mail,
        @Size(max = 500) String adresse,
        @Size(max = 20) String telephone) {
}
