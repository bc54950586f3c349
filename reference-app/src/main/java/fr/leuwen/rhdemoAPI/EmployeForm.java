package fr.leuwen.rhdemoAPI;

import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.Size;

/** The writable fields of an employe, validated like the stub's payload rules. */
public record EmployeForm(
        @NotBlank @Size(max = 250) String prenom,
        @NotBlank @Size(max = 250) String nom,
        @NotBlank @Email @Size(max = 250) String mail,
        @Size(max = 500) String adresse,
        @Size(max = 20) String telephone) {
}
